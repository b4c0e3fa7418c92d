import socket
from pathlib import Path

from studio_cli.ops.server import NodeSpec, render_config, single_node
from tests.cluster import LocalCluster


def test_single_server_config_has_no_cluster_block(tmp_path):
    text = render_config(NodeSpec(name="n1", store_dir=tmp_path))
    assert "cluster" not in text
    assert "jetstream" in text and "127.0.0.1" in text


def test_cluster_nodes_list_every_route_and_unique_names(tmp_path):
    cluster = LocalCluster.create(tmp_path, size=3)
    configs = [render_config(n.spec) for n in cluster.nodes]
    names = {n.spec.name for n in cluster.nodes}
    assert len(names) == 3
    for text in configs:
        for node in cluster.nodes:
            assert node.spec.route_url in text


def test_embedded_server_listens_on_loopback_only(tmp_path):
    server = single_node(tmp_path)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.spec.port), timeout=2) as sock:
            assert sock.recv(4096).startswith(b"INFO")
        addresses = {
            line.split()[1]
            for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            if line.split()[3] == "0A"
            and int(line.split()[1].split(":")[1], 16) == server.spec.port
        }
        assert addresses == {f"0100007F:{server.spec.port:04X}"}
    finally:
        server.stop()
    assert server.process.poll() is not None
