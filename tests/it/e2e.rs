//! End to end with the real binary: a 10-servent loopback mesh sharing files; `servent
//! search` joins it as a servent of its own and finds every replica within the TTL;
//! `servent get` fetches one, byte-identical; bad patterns are refused before any traffic.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::library::{Library, LibraryConfig};
use servent::net::mesh::Mesh;
use servent::net::{NodeConfig, NodeShare};
use servent::rt;
use servent::topology::Graph;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_servent"))
}

#[test]
fn search_finds_every_replica_within_the_ttl_and_get_fetches_one() {
    let base = std::env::temp_dir().join(format!("servent-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let graph = Graph::ring_with_chords(10, 4, &mut ChaCha8Rng::seed_from_u64(3));
    let holders = [2usize, 5, 7, 9];
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut libs = Vec::new();
    for i in 0..10 {
        let dir = base.join(format!("s{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("other file.txt"), b"nothing to see").unwrap();
        if holders.contains(&i) {
            std::fs::write(dir.join("linux-6.1-x86_64.iso"), &content).unwrap();
        }
        let lib = Library::open(LibraryConfig {
            roots: vec![dir],
            data_dir: None,
            include_hidden: false,
            progress: None,
        })
        .unwrap();
        assert!(lib.wait_hashed(Duration::from_secs(20)));
        libs.push(lib);
    }
    let mesh = rt::block_on(async {
        let mut it = libs.clone().into_iter();
        let mesh = Mesh::start_sharing(
            graph.clone(),
            |i| NodeConfig {
                min_peers: 0,
                seed: Some(i as u64),
                ..NodeConfig::default()
            },
            |_| NodeShare::Library(it.next().unwrap()),
        )
        .await
        .unwrap();
        assert!(mesh.wait_linked(Duration::from_secs(20)).await);
        mesh
    });

    // The searcher joins through servent 0 and so sits one hop further out.
    let ttl = 3u32;
    let dist = graph.bfs_distances(0);
    let expected: BTreeSet<u16> = holders
        .iter()
        .filter(|&&h| dist[h] < ttl)
        .map(|&h| mesh.nodes[h].listen_addr().port())
        .collect();
    assert!(
        !expected.is_empty() && expected.len() < holders.len(),
        "test needs replicas inside and outside the TTL: {dist:?}"
    );
    let out = bin()
        .args([
            "search",
            "linux*.iso",
            "--peer",
            &mesh.nodes[0].listen_addr().to_string(),
            "--ttl",
            &ttl.to_string(),
            "--timeout",
            "2s",
            "--json",
            "--stats",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hits: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("name").is_some()).collect();
    let ports: BTreeSet<u16> = hits
        .iter()
        .map(|h| h["port"].as_u64().unwrap() as u16)
        .collect();
    assert_eq!(
        ports, expected,
        "every replica within the TTL, and only those"
    );
    assert!(hits.iter().all(|h| h["name"] == "linux-6.1-x86_64.iso"
        && h["sha1"].as_str().unwrap().starts_with("urn:sha1:")));
    let cost = &lines.last().unwrap()["cost"];
    assert!(cost["traffic"]["queries"].as_u64().unwrap() > 0, "{cost}");

    // Fetch one replica by its URL.
    let url = hits[0]["url"].as_str().unwrap();
    let dest = base.join("got.iso");
    let status = bin()
        .args(["get", url, "-o", dest.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(&dest).unwrap(), content);

    // A pattern that cannot be answered is refused with a clear message.
    let out = bin()
        .args([
            "search",
            "*",
            "--peer",
            &mesh.nodes[0].listen_addr().to_string(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot search"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    rt::block_on(mesh.shutdown());
    let _ = std::fs::remove_dir_all(&base);
}
