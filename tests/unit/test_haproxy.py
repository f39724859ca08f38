from capytale.stack.haproxy import Layout, render


def test_every_backend_is_routed_and_health_checked():
    layout = Layout(bind=("127.0.0.1", 8080),
                    services={"auth": [("127.0.0.1", 1)], "activities": [("127.0.0.1", 2), ("127.0.0.1", 3)],
                              "router": [("127.0.0.1", 4)]},
                    nodes={k: ("127.0.0.1", 10 + k) for k in range(1, 5)}, errors="/srv/errors")
    text = render(layout)
    for k in range(1, 5):
        assert f"use_backend node{k} if {{ path_beg /n/{k}/ }}" in text
        assert f"server chp{k} 127.0.0.1:{10 + k} check" in text
    assert "server activities2 127.0.0.1:3" in text
    assert text.count("option httpchk GET /_health") == 3
    assert text.count("option httpchk GET /_chp_healthz") == 4
    assert "errorfile 503 /srv/errors/503.http" in text


def test_a_node_whose_proxy_is_down_answers_the_notebook_pages_calls_in_json():
    import json
    import re

    from capytale.stack.haproxy_errors import server_gone_json

    layout = Layout(bind=("127.0.0.1", 8080), nodes={1: ("127.0.0.1", 11)}, errors="/srv/errors",
                    services={name: [("127.0.0.1", 1)] for name in ("auth", "activities", "router")})
    rule = next(line for line in render(layout).splitlines() if line.strip().startswith("http-request return"))
    assert rule.endswith("{ nbsrv() eq 0 }") and "status 503 content-type application/json" in rule
    assert 'string "' + server_gone_json().replace('"', '\\"') + '"' in rule
    assert json.loads(server_gone_json())["reason"] == "server_gone"  # what the router answers such a call too
    api = re.compile(re.search(r"path_reg (\S+)", rule).group(1))
    assert api.match("/n/1/u/abc123/api/contents/TP%20(x)/a.ipynb") and api.match("/n/1/u/abc123/lab/api/settings")
    assert not api.match("/n/1/u/abc123/notebooks/TP/a.ipynb")  # a page: the French page of a 503


def test_the_compose_configuration_is_the_generated_one():
    from pathlib import Path

    from capytale.stack.haproxy import compose_layout

    committed = (Path(__file__).resolve().parents[2] / "compose" / "haproxy.cfg").read_text()
    assert committed.strip() == render(compose_layout(4)).strip(), (
        "compose/haproxy.cfg is stale: python -m capytale.stack haproxy-config > compose/haproxy.cfg")


def test_students_servers_are_served_on_their_own_hosts_only(tmp_path):
    import shutil
    import subprocess

    from capytale.stack import haproxy_errors
    from capytale.stack.haproxy import NotebookOrigin

    origin = NotebookOrigin.of("http://{key}.nb.localhost:8080", "http://127.0.0.1:8080/")
    assert origin.per_student and origin.hosts == (".nb.localhost:8080",)
    assert NotebookOrigin.of("https://{key}.nb.example", "https://example").hosts == (".nb.example:443", ".nb.example")
    layout = Layout(bind=("127.0.0.1", 8080), services={name: [("127.0.0.1", 1)] for name in ("auth", "activities", "router")},
                    nodes={1: ("127.0.0.1", 11)}, notebooks=origin,
                    errors=str(haproxy_errors.write(tmp_path / "errors")))
    text = render(layout)
    assert "acl notebook_origin hdr_end(host) -i .nb.localhost:8080" in text
    assert "http-request deny deny_status 404 if notebook_path !notebook_origin" in text
    assert "http-request redirect prefix http://127.0.0.1:8080 code 302 if notebook_origin !notebook_path" in text
    assert "http-request deny deny_status 404 if notebook_origin !own_server" in text
    assert "use_backend node1 if notebook_origin { path_beg /n/1/ }" in text
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    config = tmp_path / "haproxy.cfg"
    config.write_text(text)
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
