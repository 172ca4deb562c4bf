"""``python -m bench``: the ``bench`` command line, for launchers that start a module
(``torchrun -m bench run ...``, ``srun python -m bench run ...``)."""

from bench.cli import main

if __name__ == "__main__":
    main()
