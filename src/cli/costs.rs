//! Printing search results and cost records: a table for people, JSON for scripts.

use servent::core::strategy::QueryCost;
use servent::net::SearchHit;

/// One line per result: hops, servent address, file name.
pub fn print_hits(hits: &[SearchHit]) {
    println!("{:<5} {:<22} name", "hops", "servent");
    for h in hits {
        for r in &h.hit.results {
            println!(
                "{:<5} {:<22} {}",
                h.hops,
                format!("{}:{}", h.hit.ip, h.hit.port),
                r.name_lossy()
            );
        }
    }
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".into(), |v| v.to_string())
}

/// Cost records side by side, one row per search.
pub fn print_costs(costs: &[QueryCost]) {
    let w = costs
        .iter()
        .map(|c| c.strategy.len())
        .max()
        .unwrap_or(8)
        .max(8);
    println!(
        "{:<w$} {:>7} {:>7} {:>6} {:>6} {:>7} {:>8} {:>6} {:>6} {:>6} {:>9} {:>7} {:>7}",
        "strategy",
        "queries",
        "hits",
        "checks",
        "udp",
        "dups",
        "reached",
        "found",
        "hops1",
        "steps1",
        "time1 ms",
        "rings",
        "steps"
    );
    for c in costs {
        println!(
            "{:<w$} {:>7} {:>7} {:>6} {:>6} {:>7} {:>8} {:>6} {:>6} {:>6} {:>9} {:>7} {:>7}",
            c.strategy,
            c.traffic.queries,
            c.traffic.hits,
            c.traffic.checks,
            c.traffic.udp_checks,
            c.traffic.duplicates,
            opt(c.reached),
            c.hits,
            opt(c.first_hit_hops),
            opt(c.first_hit_steps),
            opt(c
                .first_hit_after
                .map(|d| format!("{:.1}", d.as_secs_f64() * 1e3))),
            c.rings,
            c.walker_steps,
        );
    }
    println!(
        "(queries/hits/checks: descriptors sent for the search{}; udp: check datagrams; dups: duplicates received; found: distinct results; hops1/time1: first hit; steps1: the finding walker's steps)",
        if costs.iter().all(|c| c.network_wide) { ", network-wide" } else { " as the originator knows them" }
    );
}
