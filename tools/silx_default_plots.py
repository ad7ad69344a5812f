"""Render each run file's default plot with silx's own NeXus viewer, as a new user opening the file
in ``silx view`` sees it: ``python tools/silx_default_plots.py OUT_DIR FILE.h5 ...``.

Needs silx and a Qt binding (``pip install silx PySide6-Essentials``); runs headless (Qt's offscreen
platform). Writes ``OUT_DIR/<file stem>_silx.png`` for every file and prints what silx made of the
default NXdata (its view, signal, axes, error bars).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import h5py
    from silx.gui import qt
    from silx.gui.data.DataViewerFrame import DataViewerFrame
    from silx.io.nxdata import get_default

    out_dir, files = Path(argv[0]), argv[1:]
    out_dir.mkdir(parents=True, exist_ok=True)
    app = qt.QApplication([])
    for path in files:
        with h5py.File(path, "r") as f:
            nxdata = get_default(f)
            if nxdata is None:
                print(f"{path}: no default NXdata")
                continue
            viewer = DataViewerFrame()
            viewer.resize(960, 640)
            viewer.setData(nxdata.group)
            viewer.show()
            for _ in range(5):
                app.processEvents()
            png = out_dir / f"{Path(path).stem}_silx.png"
            viewer.grab().save(str(png))
            view = viewer.displayedView()
            print(f"{png}: {nxdata.group.name} view={type(view).__name__ if view else None} "
                  f"signal={nxdata.signal_name}{nxdata.signal.shape} axes={nxdata.axes_dataset_names} "
                  f"errors={'yes' if nxdata.errors is not None else 'no'} "
                  f"auxiliary={nxdata.auxiliary_signals_names}")
            viewer.close()
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
