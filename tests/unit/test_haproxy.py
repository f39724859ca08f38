from capytale.stack.haproxy import Layout, render


def test_every_backend_is_routed_and_health_checked():
    layout = Layout(bind=("127.0.0.1", 8080),
                    services={"auth": [("127.0.0.1", 1)], "activities": [("127.0.0.1", 2), ("127.0.0.1", 3)],
                              "router": [("127.0.0.1", 4)]},
                    nodes={k: ("127.0.0.1", 10 + k) for k in range(1, 5)})
    text = render(layout)
    for k in range(1, 5):
        assert f"use_backend node{k} if {{ path_beg /n/{k}/ }}" in text
        assert f"server chp{k} 127.0.0.1:{10 + k} check" in text
    assert "server activities2 127.0.0.1:3" in text
    assert text.count("option httpchk GET /_health") == 3
    assert text.count("option httpchk GET /_chp_healthz") == 4


def test_the_compose_configuration_is_the_generated_one():
    from pathlib import Path

    from capytale.stack.haproxy import compose_layout

    committed = (Path(__file__).resolve().parents[2] / "compose" / "haproxy.cfg").read_text()
    assert committed.strip() == render(compose_layout(4)).strip(), (
        "compose/haproxy.cfg is stale: python -m capytale.stack haproxy-config > compose/haproxy.cfg")
