// Package server exposes the service's health endpoint for the load balancer.
package server

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Check reports whether one dependency (database, cache, queue) is usable.
type Check func() error

// Health runs every registered check on each request and answers 200 only when all pass.
type Health struct {
	mu      sync.Mutex
	checks  map[string]Check
	started time.Time
}

func NewHealth() *Health {
	return &Health{checks: map[string]Check{}, started: time.Now()}
}

// Register adds a named check; a later registration with the same name replaces it.
func (h *Health) Register(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = c
}

type report struct {
	Status  string            `json:"status"`
	Uptime  string            `json:"uptime"`
	Failing map[string]string `json:"failing,omitempty"`
}

func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	failing := map[string]string{}
	for name, check := range h.checks {
		if err := check(); err != nil {
			failing[name] = err.Error()
		}
	}
	rep := report{Status: "ok", Uptime: time.Since(h.started).Round(time.Second).String()}
	status := http.StatusOK
	if len(failing) > 0 {
		rep.Status, rep.Failing, status = "failing", failing, http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(rep)
}
