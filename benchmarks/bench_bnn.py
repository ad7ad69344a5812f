"""Binarized neural network: training in numpy, and inference on the 2T2R die through @labsim.

Prints wall times (training, one image through two XNOR-popcounts, the default protocol run) and
the accuracies measured by that run (software vs on die, per programming current, with the BER).

    python benchmarks/bench_bnn.py
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from labctl.instruments.die_controller import DieController
from labctl.protocol import get_protocol
from labctl.protocols._rram import bnn
from labctl.results import open_run
from labctl.runner import Runner
from labctl.sim_backends.bench_file import resolve
from labctl.station import Station

warnings.simplefilter("ignore", FutureWarning)


def on_die_inference(net: bnn.BinaryNetwork, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Hidden popcounts of ``x`` measured on a freshly formed and programmed die; wall s/image."""
    die = DieController("TCPIP0::10.0.0.7::inst0::INSTR",
                        visa_library=str(resolve("rram.yaml")) + "@labsim")
    die.adapter.connection.visalib.reset()
    die.form_array()
    die.verify_enabled = False
    die.program_array(bnn.to_rows(net.hidden_weights, 32))
    die.rows = (0, 31)
    counts = np.empty((len(x), 2, 32), int)
    t0 = time.perf_counter()
    for i, image in enumerate(x.reshape(len(x), 2, 32)):
        counts[i, 0], counts[i, 1] = die.xnor_popcount(image[0]), die.xnor_popcount(image[1])
    wall = (time.perf_counter() - t0) / len(x)
    die.adapter.connection.visalib.reset()
    return bnn.row_popcounts_to_neurons(counts, net.n_hidden), wall


def main() -> None:
    t0 = time.perf_counter()
    data = bnn.load_digits_binary()
    t_data = time.perf_counter() - t0
    t0 = time.perf_counter()
    net = bnn.train_bnn(data.x_train, data.y_train)
    t_train = time.perf_counter() - t0
    acc = bnn.accuracy(bnn.predict(net, data.x_test), data.y_test)
    print(f"digits loaded and binarized:             {t_data * 1e3:7.1f} ms")
    print(f"training 64-16-10 BNN (30 epochs):       {t_train:7.3f} s   test accuracy {acc:.3f}")
    popcounts, per_image = on_die_inference(net, data.x_test)
    acc_die = bnn.accuracy(bnn.infer(net, popcounts), data.y_test)
    print(f"on-die hidden layer, one image:          {per_image * 1e3:7.2f} ms wall (2 XNOR-popcounts)"
          f"   accuracy {acc_die:.3f} at 100 uA")

    cls = get_protocol("rram_bnn_inference")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bnn.h5"
        t0 = time.perf_counter()
        res = Runner(cls(), Station.load(cls.STATION), path).run()
        wall = time.perf_counter() - t0
        assert res.status == "completed", res.message
        with open_run(path) as r:
            i_c, ber = r["compliance"].values, r["ber"].values
            acc_die, soft = r["accuracy_die"].values, r["accuracy_software"].values
            images = r.data("labels").signal.values.shape[-1]
            e_bit, e_img = r["energy_per_bit"].values, r["energy_per_image"].values
    print(f"default protocol run ({len(i_c)} currents x {images} images): {wall:.2f} s wall, training "
          "and forming included")
    print(f"software (error-free) test accuracy:     {soft[0]:.3f}")
    print("  I_c (uA)   weight BER   on-die accuracy   E_prog/bit (pJ)   E_read/image (pJ)")
    for k in np.argsort(i_c):
        print(f"  {i_c[k] * 1e6:8.0f}   {ber[k]:10.2e}   {acc_die[k]:15.3f}   {e_bit[k] * 1e12:15.2f}"
              f"   {e_img[k] * 1e12:17.2f}")


if __name__ == "__main__":
    main()
