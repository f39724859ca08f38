"""Each student's random values: a seed stable per student and activity, the same in the kernel as on the teacher's side."""
from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

import pytest

from capytale.settings import SettingsError, load
from services.activities import create_app
from services.activities.grading import generator, seed_for
from services.activities.grading.seeds import derived_seed, ensure_secret, kernel_environment, seed_file_text

ALEA = Path(__file__).resolve().parents[2] / "environment" / "kernels" / "capytale_alea.py"
SECRET = b"a-secret-for-tests-only"


@pytest.fixture
def capytale_alea():
    """The students' environment's module, loaded from its file (the platform's Python does not install it)."""
    spec = importlib.util.spec_from_file_location("capytale_alea_under_test", ALEA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_seed_is_stable_and_differs_between_students_and_activities():
    alice = seed_for("alice-key", 12, SECRET)
    assert alice == seed_for("alice-key", 12, SECRET) == seed_for("alice-key", "12", SECRET)
    class_seeds = {seed_for(f"student-{n}", 12, SECRET) for n in range(35)}
    assert len(class_seeds) == 35 and alice not in class_seeds
    assert seed_for("alice-key", 13, SECRET) != alice
    assert seed_for("alice-key", 12, b"another-secret-for-tests") != alice  # nobody works it out without the secret
    assert all(0 <= seed < 2 ** 32 for seed in class_seeds)  # what numpy.random.seed takes


def test_the_kernels_module_gives_what_the_teachers_side_recomputes(capytale_alea, monkeypatch):
    seed = seed_for("alice-key", 12, SECRET)
    monkeypatch.setenv("CAPYTALE_SEED", kernel_environment(seed)["CAPYTALE_SEED"])
    assert capytale_alea.graine() == seed
    for name in ("", "exercice 1", "dés à 6 faces"):
        assert capytale_alea._graine_de(seed, name) == derived_seed(seed, name)
        ours = capytale_alea.aleatoire(name)
        theirs = generator(seed, name)
        assert [ours.randint(1, 100) for _ in range(20)] == [theirs.randint(1, 100) for _ in range(20)]
    assert capytale_alea.aleatoire("x", graine=5).random() == generator(5, "x").random()


def test_a_students_server_reads_the_seed_from_the_activity_folder(capytale_alea, monkeypatch, tmp_path):
    monkeypatch.delenv("CAPYTALE_SEED", raising=False)
    monkeypatch.chdir(tmp_path)
    assert capytale_alea.graine() == 0  # the teacher's notebook outside an activity
    (tmp_path / capytale_alea.FICHIER).write_text(seed_file_text(4242))
    assert capytale_alea.graine() == 4242
    monkeypatch.setenv("CAPYTALE_SEED", "17")  # the grading kernel's variable wins
    assert capytale_alea.graine() == 17
    monkeypatch.setenv("CAPYTALE_SEED", "pas un nombre")
    assert capytale_alea.graine() == 4242


def test_the_development_secret_is_made_once_even_by_processes_asking_together(tmp_path):
    path = tmp_path / "keys" / "seed.secret"
    secrets_read, threads = [], [threading.Thread(target=lambda: secrets_read.append(ensure_secret(path)))
                                 for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(secrets_read)) == 1 and os.stat(path).st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["seed.secret"]


def test_the_app_derives_seeds_from_its_secret_file(var_dir):
    app = create_app({"VAR_DIR": var_dir, "ACTIVITIES_DATABASE_URL": f"sqlite:///{var_dir / 'a.sqlite'}"})
    with app.app_context():
        seed = seed_for("alice-key", 3)
    secret = (var_dir / "keys" / "seed.secret").read_text().strip().encode()
    assert seed == seed_for("alice-key", 3, secret)


def test_production_names_its_own_seed_secret():
    environ = {"CAPYTALE_PRODUCTION": "true", "CAPYTALE_SESSION_PUBLIC_KEY": "/etc/capytale/session.pub",
               "CAPYTALE_NOTEBOOK_URL": "https://{key}.nb.capytale.example"}
    with pytest.raises(SettingsError, match="CAPYTALE_SEED_SECRET_FILE must be set in production"):
        load("activities", environ=environ)
