//! Real servents at scale, over TCP on loopback: a Ping flooded into a mesh from a servent
//! outside it comes back from exactly the servents within its TTL, over plain and over
//! deflate links (whose buffers and compressors come and go with traffic).

use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use servent::net::mesh::Mesh;
use servent::net::NodeConfig;
use servent::rt;
use servent::topology::Graph;

const WAIT: Duration = Duration::from_secs(30);

fn mesh_config(i: usize, compress: bool) -> NodeConfig {
    NodeConfig {
        min_peers: 0,
        max_peers: 16,
        max_ttl: 15,
        seed: Some(i as u64 + 1),
        compress,
        // The Ping floods: every servent it reaches answers with its own Pong.
        pong_caching: false,
        discover_hosts: false,
        ..NodeConfig::default()
    }
}

fn flood_check(compress: bool) {
    rt::block_on(async {
        let graph = Graph::ring_with_chords(40, 40, &mut ChaCha8Rng::seed_from_u64(3));
        let mesh = Mesh::start(graph.clone(), |i| mesh_config(i, compress))
            .await
            .unwrap();
        assert!(mesh.wait_linked(WAIT).await);
        let dist = graph.bfs_distances(7);
        let ttl = 3;
        let near = dist.iter().filter(|&&d| d < u32::from(ttl)).count();
        assert!(near < 40, "the check must not be trivially everyone");

        let check = mesh.ping_check(7, ttl, WAIT).await.unwrap();
        assert_eq!(check.servents, 40);
        assert_eq!(check.within_ttl, near);
        assert_eq!(check.answered_within_ttl, near, "{check:?}");
        assert_eq!(check.answered, near, "nobody beyond the TTL answers");
        assert_eq!(check.fraction, 1.0);

        // Again with a TTL that covers the whole mesh: every servent answers, once more
        // over links that carried traffic before.
        let all = mesh.ping_check(7, 15, WAIT).await.unwrap();
        assert_eq!((all.within_ttl, all.answered), (40, 40), "{all:?}");
        mesh.shutdown().await;
    });
}

#[test]
fn a_ping_from_outside_is_answered_by_exactly_the_servents_within_its_ttl() {
    flood_check(false);
}

#[test]
fn the_same_over_deflate_links() {
    flood_check(true);
}
