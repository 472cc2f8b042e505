"""`make bench`: run every benchmark in order, print a markdown report, save it to
bench/results/latest.md."""

from __future__ import annotations

import argparse
import time

from bench import (
    checkout_bench,
    console_metrics_bench,
    console_preview_bench,
    heavy_customer_bench,
    home_bench,
    import_bench,
    loyalty_tier_news_bench,
    loyalty_tiers_bench,
    loyalty_weekly_bench,
    mail_bench,
    pages_bench,
    recommender_bench,
    sign_in_bench,
)
from bench.common import RESULTS_DIR, log, machine_facts


def header(facts: dict[str, str]) -> str:
    """Return the report's title and the machine it ran on."""
    lines = ["# Benchmark results", "", "Command: `make bench` (`.venv/bin/python -m bench`)", ""]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    return "\n".join(lines)


def main() -> None:
    """Run the import benchmark, then the page benchmarks, and write the report."""
    parser = argparse.ArgumentParser(description="Run the shop's benchmarks.")
    parser.add_argument(
        "--skip-import",
        action="store_true",
        help="skip the import benchmark (the page benchmarks still import once if needed)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    sections = [header(machine_facts())]
    if not args.skip_import:
        sections.append(import_bench.report(import_bench.run()))
    sections.append(pages_bench.report(pages_bench.run()))
    sections.append(mail_bench.report(mail_bench.run()))
    sections.append(checkout_bench.report(checkout_bench.run()))
    sections.append(recommender_bench.report(recommender_bench.run()))
    sections.append(home_bench.report(home_bench.run()))
    sections.append(sign_in_bench.report(sign_in_bench.run()))
    sections.append(heavy_customer_bench.report(heavy_customer_bench.run()))
    sections.append(console_preview_bench.report(console_preview_bench.run()))
    sections.append(console_metrics_bench.report(console_metrics_bench.run()))
    sections.append(loyalty_tiers_bench.report(loyalty_tiers_bench.run()))
    sections.append(loyalty_tier_news_bench.report(loyalty_tier_news_bench.run()))
    sections.append(loyalty_weekly_bench.report(loyalty_weekly_bench.run()))
    elapsed = time.perf_counter() - started
    sections.append(f"_Benchmarks took {elapsed:.0f} s in all._")
    text = "\n\n".join(sections) + "\n"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(text)
    print(text)
    log(f"done in {elapsed:.0f} s; report written to {RESULTS_DIR / 'latest.md'}")


if __name__ == "__main__":
    main()
