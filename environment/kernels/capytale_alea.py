"""Des valeurs aléatoires propres à chaque élève, les mêmes à chaque exécution : ``graine()``, ``aleatoire()``.

Dans une activité Capytale, chaque élève a sa graine (un entier de 0 à 2**32 - 1), toujours la même
pour cette activité, différente de celle de ses camarades ::

    from capytale_alea import aleatoire, graine

    alea = aleatoire("exercice 1")       # un random.Random propre à l'élève et à l'exercice
    n = alea.randint(10, 99)
    valeurs = [alea.random() for _ in range(5)]

    import numpy as np
    rng = np.random.default_rng(graine())

Le même nom donne les mêmes valeurs, quel que soit l'ordre des cellules ; deux noms, des suites
différentes.  La correction automatique rejoue le carnet de l'élève avec sa graine : les tests du
professeur peuvent donc recalculer la valeur attendue (``aleatoire("exercice 1").randint(10, 99)``).

La graine vient de la variable d'environnement ``CAPYTALE_SEED`` (donnée au noyau de la correction),
sinon du fichier ``.capytale-graine`` du dossier de l'activité, sinon c'est 0 (le carnet du
professeur hors activité).  ``aleatoire(nom, graine=1234)`` donne les valeurs d'un élève dont la graine
est 1234 : la page du professeur montre la graine de chacun.
"""
import hashlib
import os
import random
from pathlib import Path

VARIABLE = "CAPYTALE_SEED"
FICHIER = ".capytale-graine"
__all__ = ["aleatoire", "graine"]


def _lue(texte):
    try:
        valeur = int(str(texte).strip())
    except ValueError:
        return None
    return valeur if 0 <= valeur < 2 ** 32 else None


def graine():
    """La graine de l'élève dans cette activité (un entier de 0 à 2**32 - 1)."""
    depuis_variable = _lue(os.environ.get(VARIABLE, ""))
    if depuis_variable is not None:
        return depuis_variable
    dossier = Path.cwd()
    for lieu in (dossier, *dossier.parents[:2]):
        try:
            depuis_fichier = _lue((lieu / FICHIER).read_text())
        except OSError:
            continue
        if depuis_fichier is not None:
            return depuis_fichier
    return 0


def _graine_de(base, nom):
    # la même fonction que services.activities.grading.seeds.derived_seed, côté plateforme
    if not nom:
        return base
    return int.from_bytes(hashlib.sha256(f"{base}\0{nom}".encode()).digest()[:8], "big")


_graine_de_l_eleve = graine


def aleatoire(nom="", graine=None):
    """Un générateur ``random.Random`` propre à l'élève (ou à ``graine``) et au ``nom`` donné."""
    base = _graine_de_l_eleve() if graine is None else graine
    return random.Random(_graine_de(base, nom))
