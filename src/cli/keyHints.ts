import type { ErrorKind } from '../core/execute/errors';
import type { ProviderKind } from '../providers/endpoint';
import { API_KEY_ENV } from './options';

/**
 * The environment variable an endpoint's key is read from (its `key-env`/`apiKeyEnv`, else the
 * provider's first one that is set), or undefined when the provider takes none (Ollama).
 */
export function keyVarOf(provider: ProviderKind, apiKeyEnv: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (apiKeyEnv) return apiKeyEnv;
  const names = API_KEY_ENV[provider] ?? [];
  return names.find((n) => env[n]) ?? names[0];
}

/**
 * A refused key names the variable it came from, so the user knows what to fix (several endpoints may
 * each have their own); never the key itself. Other errors are left as they are.
 */
export function withKeyHint(message: string, kind: ErrorKind, keyVar: string | undefined, env: NodeJS.ProcessEnv): string {
  if (kind !== 'auth' || !keyVar) return message;
  return `${message} (${env[keyVar] ? `the key came from $${keyVar}` : `no key was set: set $${keyVar}`})`;
}
