"""`pip install --no-build-isolation .`: builds the Python module (python/module.cpp) with the
project's CMake, from Debian's packages only (pybind11-dev, python3-dev, setuptools); nothing is
downloaded. The package is python/cleanplate plus the compiled cleanplate._core."""
import glob
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

root = os.path.dirname(os.path.abspath(__file__))
version = re.search(r"project\(cleanplate VERSION ([0-9.]+)", open(os.path.join(root, "CMakeLists.txt")).read())[1]


class CMakeBuild(build_ext):
    def build_extension(self, extension):
        build = os.path.join(os.path.abspath(self.build_temp), "cmake")
        subprocess.run(["cmake", "-S", root, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DCLEANPLATE_PYTHON=ON",
                        "-DBUILD_TESTING=OFF", "-DCLEANPLATE_BENCH=OFF", f"-DPython3_EXECUTABLE={sys.executable}"],
                       check=True)
        subprocess.run(["cmake", "--build", build, "--target", "_core", "--parallel", str(os.cpu_count() or 1)],
                       check=True)
        built = glob.glob(os.path.join(build, "python", "cleanplate", "_core*.so"))
        if not built:
            raise RuntimeError("the CMake build made no cleanplate/_core module")
        os.makedirs(os.path.dirname(self.get_ext_fullpath(extension.name)), exist_ok=True)
        shutil.copy(built[0], self.get_ext_fullpath(extension.name))


setup(
    name="cleanplate",
    version=version,
    description="Low-rank background / sparse foreground separation of video (randomized SVD, robust PCA)",
    packages=["cleanplate"],
    package_dir={"": "python"},
    ext_modules=[Extension("cleanplate._core", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
)
