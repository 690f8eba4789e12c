"""The bank's fixed operators against librosa's, over the parameters configs may set."""

import librosa
import numpy as np
import pytest

from features import FeatureBank, FeatureConfig, filters


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (16000, 512, 64, 0.0, None), (16000, 400, 40, 50.0, 7600.0), (22050, 1024, 128, 20.0, None),
    (8000, 256, 26, 300.0, 3400.0)])
def test_mel_filterbank_is_librosas(sr, n_fft, n_mels, fmin, fmax):
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    ours = filters.mel(sr, n_fft, n_mels, fmin, fmax)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("sr,n_fft,n_chroma", [(16000, 512, 12), (22050, 2048, 12),
                                               (16000, 1024, 24)])
def test_chroma_filterbank_is_librosas(sr, n_fft, n_chroma):
    ref = librosa.filters.chroma(sr=sr, n_fft=n_fft, n_chroma=n_chroma, tuning=0.0)
    np.testing.assert_allclose(filters.chroma(sr, n_fft, n_chroma), ref, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("win_length,n_fft", [(400, 512), (512, 512), (255, 512)])
def test_window_is_librosas_padded_hann(win_length, n_fft):
    ref = librosa.util.pad_center(librosa.filters.get_window("hann", win_length), size=n_fft)
    np.testing.assert_allclose(filters.hann(win_length, n_fft), ref, atol=1e-12)


@pytest.mark.parametrize("width,order,n", [(9, 1, 300), (9, 2, 300), (3, 1, 3), (5, 2, 5),
                                           (7, 2, 8), (9, 1, 9)])
def test_derivative_is_librosas_delta(width, order, n):
    """Edges included: the whole output of a signal as short as the window is edge."""
    rng = np.random.default_rng(width * 10 + order)
    x = np.cumsum(rng.standard_normal((3, n)), axis=1).astype(np.float32)
    ref = librosa.feature.delta(x, width=width, order=order, axis=-1)
    np.testing.assert_allclose(filters.derivative(x, width, order), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_derivative_gives_the_bits_of_the_whole_row_numpy_filter(dtype):
    """The numba loop rounds like ``out += centre[k] * x[shifted]`` over whole rows (each
    term in float64, stored in the output's type), so a cache written before it still holds
    the features the code computes now: the same bits, not merely close."""
    x = np.cumsum(np.random.default_rng(3).standard_normal((4, 2, 120)), axis=-1).astype(dtype)
    for order in (1, 2):
        centre, _ = filters.savgol(9, order)
        ref = np.empty(x.shape, np.result_type(dtype, np.float32))
        inner = ref[..., 4:-4]
        np.multiply(x[..., :-8], centre[0], out=inner, casting="unsafe")
        for k in range(1, 9):
            inner += centre[k] * x[..., k:x.shape[-1] - 8 + k]
        np.testing.assert_array_equal(filters.derivative(x, 9, order)[..., 4:-4], inner)


def test_derivative_of_a_polynomial_is_exact():
    """A degree-``order`` fit reproduces polynomials of that degree everywhere, and a quadratic's
    slope in the interior (a local line fit is unbiased for it on a symmetric window)."""
    t = np.arange(50.0)
    line, quadratic = 5.0 * t - 3.0, 3.0 * t**2 - 2.0 * t + 1.0
    np.testing.assert_allclose(filters.derivative(line[None], 7, 1)[0], 5.0, atol=1e-9)
    np.testing.assert_allclose(filters.derivative(quadratic[None], 7, 2)[0], 6.0, atol=1e-9)
    np.testing.assert_allclose(filters.derivative(quadratic[None], 7, 1)[0, 3:-3],
                               6.0 * t[3:-3] - 2.0, atol=1e-9)


def test_power_to_db_is_librosas():
    x = np.abs(np.random.default_rng(0).standard_normal((8, 40))) ** 6
    for top_db in (80.0, None):
        np.testing.assert_allclose(filters.power_to_db(x, top_db=top_db),
                                   librosa.power_to_db(x, ref=1.0, amin=1e-10, top_db=top_db))


def _rastafilt(x: np.ndarray) -> np.ndarray:
    """rastamat's ``rastafilt`` written out: each frame's five-frame FIR output, the first
    four set to 0, then the pole at 0.94 run over it as a recursion."""
    b = np.array([0.2, 0.1, 0.0, -0.1, -0.2])
    out = np.zeros_like(x, dtype=np.float64)
    for r in range(x.shape[0]):
        fir = np.convolve(x[r], b)[: x.shape[1]]
        fir[:4] = 0.0
        for n in range(4, x.shape[1]):
            out[r, n] = fir[n] + 0.94 * out[r, n - 1]
    return out


@pytest.mark.parametrize("n", [3, 4, 5, 6, 300])
def test_rasta_is_rastamats_filter(n):
    x = np.cumsum(np.random.default_rng(n).standard_normal((3, n)), axis=1)
    np.testing.assert_allclose(filters.rasta(x), _rastafilt(x), rtol=1e-10, atol=1e-12)


def _scipy_rasta(x: np.ndarray) -> np.ndarray:
    """The bank's RASTA filter as it was written on ``scipy.signal.lfilter`` (the digests of
    the committed RASTA variants were computed so)."""
    from scipy.signal import lfilter

    out = np.zeros_like(x, dtype=np.float64)
    if x.shape[-1] > 4:
        b = np.asarray(filters.RASTA_NUMERATOR)
        _, state = lfilter(b, [1.0], x[..., :4], axis=-1, zi=np.zeros(x.shape[:-1] + (4,)))
        out[..., 4:] = lfilter(b, [1.0, -filters.RASTA_POLE], x[..., 4:], axis=-1, zi=state)[0]
    return out


@pytest.mark.parametrize("n", [5, 6, 301])
def test_rasta_is_scipys_lfilter_to_the_bit(n):
    """Written without ``scipy.signal`` (which the bank's hot path does not import), the
    filter must still give what ``lfilter`` gives, bit for bit: real cepstral trajectories
    (MFCCs of a RAVDESS-like vowel, levels in the hundreds) and random walks."""
    rng = np.random.default_rng(n)
    walks = np.cumsum(rng.standard_normal((20, n)), axis=1) * 30.0
    np.testing.assert_array_equal(filters.rasta(walks), _scipy_rasta(walks))
    stacked = np.asfortranarray(walks.reshape(2, 10, n))  # any layout, any leading shape
    np.testing.assert_array_equal(filters.rasta(stacked), _scipy_rasta(stacked))
    y = np.sin(2 * np.pi * 140 * np.arange(16000) / 16000).astype(np.float32)
    y += 0.01 * rng.standard_normal(16000).astype(np.float32)
    bank = FeatureBank(FeatureConfig(groups=("mfcc",), delta_order=0, rasta=False))
    cepstra = bank.frames(y, 16000)[0].astype(np.float64)[:, :n]
    np.testing.assert_array_equal(filters.rasta(cepstra), _scipy_rasta(cepstra))


def test_rasta_removes_a_stationary_channel_and_keeps_the_syllable_rate():
    """A fixed microphone or room adds a constant to each log band (each cepstral row): gone
    exactly, from the first frame; a 4 Hz modulation (syllables at a 10 ms hop) passes within
    1 dB, a 0.25 Hz drift is cut by more than 10 dB."""
    x = np.cumsum(np.random.default_rng(0).standard_normal((4, 400)), axis=1)
    np.testing.assert_allclose(filters.rasta(x + np.array([[30.0], [-7.0], [0.5], [1e3]])),
                               filters.rasta(x), atol=1e-9)
    t = np.arange(2000) / 100.0

    def gain_db(hz):  # in the steady state, after the pole's transient
        y = filters.rasta(np.sin(2 * np.pi * hz * t)[None])[0, 1000:]
        return 20 * np.log10(np.sqrt(2 * np.mean(y ** 2)))
    assert abs(gain_db(4.0)) < 1.0
    assert gain_db(0.25) < -10.0


def _printed_by_a_new_process(code: str) -> list[str]:
    """What ``code`` prints, run in a fresh interpreter (so no import of this one counts)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split()


def test_bank_hot_path_does_not_import_librosa():
    """Why these operators are ours: a new process extracts without librosa's import cost;
    nor does an extraction worker (which imports ``features.parallel``) pay for pandas."""
    out = _printed_by_a_new_process(
        "import sys, numpy as np\n"
        "from features.parallel import compute\n"
        "from features import FeatureBank\n"
        "y = np.sin(np.arange(16000) * 0.05).astype(np.float32)\n"
        "FeatureBank().extract(y, 16000)\n"
        "print(*(m in sys.modules for m in ('librosa', 'scipy.signal', 'pandas')))\n")
    assert out == ["False", "False", "False"]


def test_the_parent_of_the_workers_does_not_import_scipy_fft():
    """The process that hashes files and hands them to workers names the bank's columns but
    never transforms a signal: scipy.fft's import (~0.3 s, before any worker can start) is
    left to the workers. Computing one file does import it."""
    out = _printed_by_a_new_process(
        "import sys, numpy as np\n"
        "import features.parallel\n"
        "from features import FeatureBank\n"
        "bank = FeatureBank()\n"
        "assert len(bank.feature_names) > 0\n"
        "before = 'scipy.fft' in sys.modules\n"
        "bank.extract(np.sin(np.arange(8000) * 0.05).astype(np.float32), 16000)\n"
        "print(before, 'scipy.fft' in sys.modules)\n")
    assert out == ["False", "True"]


def test_a_warped_mel_filterbank_reads_each_band_that_much_higher():
    """``warp`` scales every filter's edges: each filter's centre of mass moves up by that
    factor (to a bin), and 1 is librosa's filterbank."""
    freqs = np.fft.rfftfreq(512, 1 / 16000)
    banks = [filters.mel(16000, 512, 40, 0.0, 6000.0, warp) for warp in (1.0, 1.2)]
    centre = [(w * freqs).sum(1) / w.sum(1) for w in banks]
    np.testing.assert_allclose(centre[1][5:], 1.2 * centre[0][5:], atol=16000 / 512)
    assert np.array_equal(filters.mel(16000, 512, 40, 0.0, 6000.0, 1.0),
                          filters.mel(16000, 512, 40, 0.0, 6000.0))
