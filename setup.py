"""Build step: ship the default model inside the package.

A wheel (``pip install .``) carries ``models/default`` (with any sub-directories) as
``nlp/_shipped/models/default``, the last place ``nlp.io.home`` looks for a model, so an install
classifies from any directory. Everything else about the build is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED_MODEL = Path("models", "default")


class BuildWithModel(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:   # an editable install finds models/ beside the package
            return
        if not (SHIPPED_MODEL / "model.json").is_file():
            raise SystemExit(f"{SHIPPED_MODEL}/model.json is missing: the package would ship "
                             f"without a model (train one with `tactics train`)")
        target = Path(self.build_lib, "nlp", "_shipped", "models", "default")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(SHIPPED_MODEL, target)


setup(cmdclass={"build_py": BuildWithModel})
