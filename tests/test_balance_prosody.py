"""Spectral balance and prosody against analytic values on constructed spectra and contours."""

import numpy as np
import pytest

from features import FeatureBank, FeatureConfig, balance, prosody
from features.filters import fft_frequencies
from features.stft import Spectra, spectra

CFG = FeatureConfig()
FREQS = fft_frequencies(CFG.sr, CFG.n_fft)
ROW = {name: i for i, name in enumerate(balance.NAMES)}


def _spectra(power_column: np.ndarray, n_frames: int = 4) -> Spectra:
    power = np.repeat(power_column[:, None], n_frames, axis=1).astype(np.float32)
    mag = np.sqrt(power)
    mel = np.ones((CFG.n_mels, n_frames), np.float32)
    return Spectra(mag=mag, power=power, mel=mel)


@pytest.mark.parametrize("slope", [-12.0, 0.0, 7.5])
def test_spectral_slopes_of_an_exponential_spectrum(slope):
    """A spectrum falling ``slope`` dB per kHz everywhere has that slope in both bands."""
    rows = balance.balance(_spectra(10 ** (slope * FREQS / 1000 / 10) * 1e-3), CFG)
    np.testing.assert_allclose(rows[ROW["slope_0_500"]], slope, atol=1e-3)
    np.testing.assert_allclose(rows[ROW["slope_500_1500"]], slope, atol=1e-3)


def test_alpha_ratio_hammarberg_and_band_energies_by_counting_bins():
    power = np.zeros_like(FREQS)
    low, high = (FREQS >= 50) & (FREQS < 1000), (FREQS >= 1000) & (FREQS < 5000)
    power[low], power[high] = 1.0, 0.01
    power[(FREQS >= 2000) & (FREQS < 5000)] = 1e-3  # the strongest bin above 2 kHz
    rows = balance.balance(_spectra(power), CFG)
    e_high = 0.01 * np.count_nonzero(high & (FREQS < 2000)) + 1e-3 * np.count_nonzero(
        (FREQS >= 2000) & (FREQS < 5000))
    np.testing.assert_allclose(rows[ROW["alpha_ratio"]],
                               10 * np.log10(e_high / np.count_nonzero(low)), atol=1e-4)
    np.testing.assert_allclose(rows[ROW["hammarberg"]], 30.0, atol=1e-4)  # 1 vs 1e-3
    band = (FREQS >= 250) & (FREQS < 650)
    np.testing.assert_allclose(rows[ROW["energy_250_650"]],
                               10 * np.log10(np.count_nonzero(band)), atol=1e-4)


def test_two_tones_give_their_level_difference():
    """On a real signal: 500 Hz at amplitude 1 and 2 kHz at 0.1 are 20 dB apart."""
    t = np.arange(CFG.sr) / CFG.sr
    y = (np.sin(2 * np.pi * 500 * t) + 0.1 * np.sin(2 * np.pi * 2000 * t)).astype(np.float32)
    rows = balance.balance(spectra(y, CFG), CFG)[:, 5:-5]
    np.testing.assert_allclose(rows[ROW["alpha_ratio"]], -20.0, atol=0.1)
    np.testing.assert_allclose(rows[ROW["hammarberg"]], 20.0, atol=0.1)


def test_flux_and_loudness():
    sp = _spectra(np.ones_like(FREQS))
    rows = balance.balance(sp, CFG)
    np.testing.assert_allclose(rows[ROW["flux"]], 0.0, atol=1e-12)  # stationary
    a, b = np.zeros_like(FREQS), np.zeros_like(FREQS)
    a[10], b[20] = 4.0, 0.5  # all the (normalised) mass moves from one bin to another
    power = np.stack([a, b, a], axis=1).astype(np.float32)
    alt = Spectra(mag=np.sqrt(power), power=power, mel=np.ones((CFG.n_mels, 3), np.float32))
    np.testing.assert_allclose(balance.balance(alt, CFG)[ROW["flux"]], [0, 2, 2], atol=1e-6)
    louder = Spectra(sp.mag, sp.power, sp.mel * 2.0)  # Stevens: twice the power, 2**0.3
    np.testing.assert_allclose(balance.balance(louder, CFG)[ROW["loudness"]],
                               rows[ROW["loudness"]] * 2**0.3, rtol=1e-5)


def _st_to_hz(st):
    return prosody.F0_REF_HZ * 2 ** (np.asarray(st) / 12)


def test_a_rising_glide():
    hop = 0.01
    st = np.linspace(40, 52, 101)  # 12 semitones in one second
    f0 = np.concatenate([np.zeros(20), _st_to_hz(st), np.zeros(20)])
    out = dict(zip(prosody.NAMES, prosody.prosody(f0, np.ones_like(f0), hop), strict=True))
    assert out["f0_st_p20"] == pytest.approx(40 + 0.2 * 12)
    assert out["f0_st_range_20_80"] == pytest.approx(0.6 * 12)
    assert out["f0_rise_mean"] == pytest.approx(12.0, rel=1e-6)
    assert out["f0_fall_mean"] == 0.0 and out["f0_rise_std"] == pytest.approx(0.0, abs=1e-9)
    assert out["voiced_seg_mean"] == pytest.approx(1.01)
    assert out["voiced_segs_per_s"] == pytest.approx(1 / 1.41)


def test_an_octave_error_does_not_make_a_movement():
    st = np.full(60, 45.0)
    st[30] = 57.0  # one frame an octave up: the tracker's classic error
    out = dict(zip(prosody.NAMES, prosody.prosody(_st_to_hz(st), np.ones(60), 0.01),
                   strict=True))
    assert out["f0_rise_mean"] == 0.0 and out["f0_fall_mean"] == 0.0


def _runs(mask):
    """Start indices and lengths of the runs of True in a boolean row."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return edges[::2], edges[1::2] - edges[::2]


def test_the_median_of_three_keeps_to_its_segment():
    """The running median pads each voiced segment with its own end values: against that
    definition in numpy, to the bit, with gaps, flickers and flat steps."""
    def reference(st):
        left = np.concatenate(([np.nan], st[:-1]))
        right = np.concatenate((st[1:], [np.nan]))
        left = np.where(np.isnan(left), st, left)
        right = np.where(np.isnan(right), st, right)
        return np.clip(st, np.minimum(left, right), np.maximum(left, right))

    rng = np.random.default_rng(4)
    for _ in range(500):
        n = int(rng.integers(1, 60))
        # + 0.0: no -0.0 (12 log2(f0 / 27.5) is never -0.0), whose order against 0.0
        # numpy's minimum and maximum leave to the CPU's vector instructions
        st = np.round(rng.standard_normal(n) * 3, int(rng.integers(0, 3))) + 0.0
        st[rng.random(n) < rng.random() * 0.5] = np.nan
        got = prosody._median3_within_segments(st)
        assert got.tobytes() == reference(st).tobytes()


def test_movements_are_the_stretches_between_turning_points():
    """Against the definition written with numpy's set operations, on random contours with
    flat steps (rounded values), unvoiced gaps and one- and two-frame flickers."""
    def reference(st, hop_s):
        smooth = prosody._median3_within_segments(st)
        starts, lengths = _runs(~np.isnan(st))
        rise, fall = [], []
        for start, length in zip(starts, lengths, strict=True):
            if length < 3:
                continue
            seg = smooth[start:start + length]
            turns = np.flatnonzero(np.diff(np.sign(np.diff(seg))) != 0) + 1
            bounds = np.concatenate(([0], turns, [length - 1]))
            slopes = (seg[bounds[1:]] - seg[bounds[:-1]]) / (np.diff(bounds) * hop_s)
            rise += slopes[slopes > 0].tolist()
            fall += (-slopes[slopes < 0]).tolist()
        return np.asarray(rise), np.asarray(fall)

    rng = np.random.default_rng(5)
    for _ in range(500):
        n = int(rng.integers(1, 60))
        st = np.round(rng.standard_normal(n) * 3, int(rng.integers(0, 3)))
        st[rng.random(n) < rng.random() * 0.5] = np.nan
        for got, want in zip(prosody.movements(st, 0.01), reference(st, 0.01), strict=True):
            np.testing.assert_array_equal(got, want)


def test_voicing_rhythm_and_loudness_peaks():
    hop = 0.01
    pattern = np.concatenate([np.full(10, 150.0), np.zeros(5)])
    f0 = np.tile(pattern, 4)  # 0.6 s: voiced 0.1 s, unvoiced 0.05 s, four times
    loud = 1 + np.sin(2 * np.pi * 5 * np.arange(f0.size) * hop)  # 5 peaks per second
    out = dict(zip(prosody.NAMES, prosody.prosody(f0, loud, hop), strict=True))
    assert out["voiced_seg_mean"] == pytest.approx(0.1)
    assert out["unvoiced_seg_mean"] == pytest.approx(0.05)
    assert out["voiced_segs_per_s"] == pytest.approx(4 / 0.6)
    assert out["loudness_peaks_per_s"] == pytest.approx(3 / 0.6)  # 3 whole cycles in 0.6 s


def test_nothing_voiced_is_zeros_not_nan():
    out = prosody.prosody(np.zeros(50), np.zeros(50), 0.01)
    assert np.all(np.isfinite(out)) and out[:10].tolist() == [0.0] * 10


def test_bank_columns_of_the_new_groups():
    bank = FeatureBank(FeatureConfig(groups=("balance", "prosody")))
    names = bank.feature_names
    n_stats = len(CFG.statistics)
    assert len(names) == (4 + 2 * 4) * n_stats + len(prosody.NAMES)
    assert "alpha_ratio_voiced_mean" in names and "alpha_ratio_unvoiced_p50" in names
    assert "loudness_mean" in names and "f0_rise_mean" in names
    t = np.arange(CFG.sr) / CFG.sr
    y = (0.5 * np.sin(2 * np.pi * 150 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    x = bank.extract(y, CFG.sr)
    assert x.shape == (len(names),) and np.all(np.isfinite(x))
    assert x[names.index("f0_st_p50")] == pytest.approx(12 * np.log2(150 / 27.5), abs=0.2)


def _prosody_reference(f0, loudness, hop_s):
    """prosody's parameters as numpy expressions (its docstring's definitions)."""
    st = prosody.semitones(f0)
    voiced = ~np.isnan(st)
    out = np.zeros(len(prosody.NAMES))

    def mean_std(x):
        return (np.mean(x), np.std(x)) if x.size else (0.0, 0.0)

    if voiced.any():
        v = st[voiced]
        p20, p50, p80 = np.percentile(v, (20, 50, 80))
        out[:6] = (v.mean(), v.std(), p20, p50, p80, p80 - p20)
        rise, fall = prosody.movements(st, hop_s)
        out[6:8], out[8:10] = mean_std(rise), mean_std(fall)
    v_len = _runs(voiced)[1]
    out[10:12] = mean_std(v_len * hop_s)
    out[12:14] = mean_std(_runs(~voiced)[1] * hop_s)
    duration = st.size * hop_s
    if duration > 0:
        out[14] = v_len.size / duration
        smooth = np.convolve(loudness, np.ones(3) / 3.0, mode="same")
        if smooth.size >= 3:
            mid = smooth[1:-1]
            peaks = (mid > smooth[:-2]) & (mid >= smooth[2:]) & (mid > np.median(smooth))
            out[15] = np.count_nonzero(peaks) / duration
    return out


def test_prosody_equals_its_numpy_definition_to_the_bit():
    rng = np.random.default_rng(2)
    for _ in range(400):
        n = int(rng.integers(0, 400))
        hz = (150 + 50 * np.sin(np.arange(n) / rng.uniform(3, 30)) if rng.random() < 0.5
              else rng.uniform(70, 400, n))
        f0 = np.where(rng.random(n) < rng.random(), 0.0, hz)
        loudness = rng.random(n) * rng.uniform(0.1, 10)
        if rng.random() < 0.2:
            loudness = np.round(loudness, 1)  # equal neighbours and medians
        got = prosody.prosody(f0, loudness, 0.01)
        assert got.tobytes() == _prosody_reference(f0, loudness, 0.01).tobytes(), n
