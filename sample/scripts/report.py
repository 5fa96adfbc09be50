"""Monthly sales report: reads orders.csv (date,region,amount) and prints totals per region and month."""

import csv
import sys
from collections import defaultdict
from datetime import datetime


def load(path):
    rows = []
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append(
                {
                    "month": datetime.strptime(row["date"], "%Y-%m-%d").strftime("%Y-%m"),
                    "region": row["region"].strip(),
                    "amount": float(row["amount"]),
                }
            )
    return rows


def totals(rows):
    by_key = defaultdict(float)
    for row in rows:
        by_key[(row["region"], row["month"])] += row["amount"]
    return dict(sorted(by_key.items()))


def average_order(rows):
    return sum(r["amount"] for r in rows) / len(rows)


def main(argv):
    path = argv[1] if len(argv) > 1 else "orders.csv"
    rows = load(path)
    for (region, month), amount in totals(rows).items():
        print(f"{region:<12} {month}  {amount:>12,.2f}")
    print(f"average order: {average_order(rows):,.2f}")


if __name__ == "__main__":
    main(sys.argv)
