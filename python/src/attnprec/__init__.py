"""attnprec from Python: PyTorch or NumPy tensors in, the exact reference and each storage
recipe's error out.

    import attnprec
    r = attnprec.replay("gated_deltanet", {"q": q, "k": k, "v": v, "g": g, "beta": beta},
                        recipes={"bf16": "state=bfloat16"}, layout="bthd")
    r.reference, r.outputs["bf16"], r.errors["bf16"], r.certification

The work is done by the ``attnprec`` binary (found through ``ATTNPREC_BIN``, the wheel, PATH or a
build folder); this package writes its inputs exactly and reads its outputs.
"""

from ._binary import AttnprecError, AttnprecInputError, Binary, find_binary
from ._tensors import Bits, bf16_bits, read_safetensors, write_safetensors
from .capture import CapturedCall, capture
from .replay import ReplayResult, load_replay, replay
from .results import Gate, load_results, run, validate

__version__ = "0.1.0"

__all__ = [
    "AttnprecError", "AttnprecInputError", "Binary", "Bits", "CapturedCall", "Gate", "ReplayResult",
    "bf16_bits", "capture", "find_binary", "load_replay", "load_results", "read_safetensors", "replay",
    "run", "validate", "write_safetensors",
]
