"""Voice quality and formants against Praat (through praat-parselmouth) and against the known
parameters of synthetic vowels: jitter, shimmer, HNR, formants F1-F3."""

import os

import numpy as np
import pytest
import scipy.signal

from features import FeatureBank, FeatureConfig, formants, pitch, voice
from features.stft import spectra

parselmouth = pytest.importorskip("parselmouth")
from parselmouth.praat import call  # noqa: E402

CFG = FeatureConfig()
SR = CFG.sr


def vowel(f0=120.0, resonances=((700, 80), (1220, 90), (2600, 120), (3500, 200), (4500, 250)),
          seconds=1.0, jitter=0.0, shimmer=0.0, noise=0.0, seed=0) -> np.ndarray:
    """A source-filter vowel: a pulse train (periods and amplitudes perturbed by Gaussian
    relative ``jitter`` and ``shimmer``), a -6 dB/octave glottal roll-off, a cascade of
    two-pole resonators at ``resonances`` (Hz, bandwidth Hz) and white noise ``noise``
    times the peak."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    x = np.zeros(n)
    t = 0.01 * SR
    while t < n - 1:
        i, frac = int(t), t - int(t)
        amp = 1.0 + shimmer * rng.standard_normal()
        x[i] += amp * (1 - frac)
        x[i + 1] += amp * frac
        t += SR / f0 * (1.0 + jitter * rng.standard_normal())
    x = scipy.signal.lfilter([1.0], [1.0, -0.97], x)
    for f, b in resonances:
        r, theta = np.exp(-np.pi * b / SR), 2 * np.pi * f / SR
        x = scipy.signal.lfilter([1 - r], [1, -2 * r * np.cos(theta), r * r], x)
    x = 0.5 * x / np.abs(x).max()
    return (x + noise * rng.standard_normal(n)).astype(np.float32)


def ours(y):
    sp = spectra(y, CFG)
    f0, _ = pitch.pitch(sp, CFG)
    t, a, s = voice.pulses(y, f0, CFG.hop_length, SR, CFG.f0_min, CFG.f0_max)
    return {"sp": sp, "f0": f0, "formants": formants.formants(sp, f0 > 0, SR, CFG.n_fft),
            "perturbation": voice.perturbation(t, a, s, SR, CFG.f0_min, CFG.f0_max),
            "hnr": voice.period_hnr(y, t, s, CFG.hop_length, sp.n_frames)}


def praat_perturbation(y):
    snd = parselmouth.Sound(y.astype(np.float64), SR)
    pp = call(snd, "To PointProcess (periodic, cc)", 75, 600)
    jitter = [call(pp, f"Get jitter ({k})", 0, 0, 0.0001, 0.02, 1.3) for k in ("local", "rap")]
    shimmer = [call([snd, pp], f"Get shimmer ({k})", 0, 0, 0.0001, 0.02, 1.3, 1.6)
               for k in ("local", "local_dB")]
    return np.array(jitter + shimmer)


@pytest.mark.parametrize("f0, jitter, shimmer", [(120, 0.01, 0.05), (200, 0.02, 0.10),
                                                 (110, 0.005, 0.03), (250, 0.01, 0.02)])
def test_jitter_and_shimmer_match_praat_and_the_perturbation_put_in(f0, jitter, shimmer):
    """Praat's voice report on the same signal: jitter (local, RAP) and shimmer (local,
    local dB) within 25 % of Praat's values, and local jitter near the perturbation put in
    (the resonators smooth the pulses, most at high F0, so both read somewhat less)."""
    y = vowel(f0, jitter=jitter, shimmer=shimmer, seed=1)
    got, ref = ours(y)["perturbation"], praat_perturbation(y)
    np.testing.assert_allclose(got, ref, rtol=0.25)
    # local jitter of a Gaussian period perturbation s is E|d1 - d2| = 2 s / sqrt(pi)
    assert 0.55 < got[0] / (2 * jitter / np.sqrt(np.pi)) < 1.2


def test_a_perfectly_periodic_vowel_has_almost_no_jitter():
    got = ours(vowel(140))["perturbation"]
    assert got[0] < 5e-4 and got[1] < 5e-4


@pytest.mark.parametrize("noise", [0.003, 0.01, 0.03, 0.06])
def test_hnr_follows_praat_harmonicity(noise):
    """Median HNR over voiced frames within 3 dB of Praat's ``To Harmonicity (cc)`` on vowels
    with added noise, from about 25 dB down to 6 dB; and falls as noise rises."""
    y = vowel(130, jitter=0.003, noise=noise, seed=2)
    got = np.nanmedian(ours(y)["hnr"])
    h = parselmouth.Sound(y.astype(np.float64), SR).to_harmonicity_cc(0.01, 75, 0.1, 1.0)
    ref = np.median(h.values[h.values > -200])
    assert abs(got - ref) < 3.0, (got, ref)


def test_hnr_falls_with_noise():
    levels = [np.nanmedian(ours(vowel(130, noise=n, seed=3))["hnr"]) for n in (0.003, 0.02,
                                                                                0.08)]
    assert levels[0] > levels[1] + 5 > levels[2] + 10


@pytest.mark.parametrize("f0, resonances", [
    (120, ((700, 80), (1220, 90), (2600, 120), (3500, 200), (4500, 250))),   # /a/, male
    (210, ((850, 90), (1600, 100), (2850, 150), (3800, 200), (4700, 250))),  # /a/, female
    (110, ((300, 60), (2250, 100), (3000, 150), (3700, 200), (4600, 250))),  # /i/, male
    (150, ((450, 70), (900, 80), (2450, 120), (3450, 200), (4500, 250))),    # /o/
])
def test_formants_of_synthetic_vowels_are_their_resonances_and_praats(f0, resonances):
    """F1-F3 within 8 % of the resonances put in (the source's harmonics bias an all-pole
    fit towards them, Praat's too) and within 3 % of Praat's ``To Formant (burg)``."""
    y = vowel(f0, resonances)
    got = np.nanmedian(ours(y)["formants"][:3], axis=1)
    fo = parselmouth.Sound(y.astype(np.float64), SR).to_formant_burg(
        max_number_of_formants=5, maximum_formant=5500)
    times = np.arange(0.05, 0.95, 0.01)
    ref = np.array([np.nanmedian([fo.get_value_at_time(k, t) for t in times])
                    for k in (1, 2, 3)])
    want = np.array([f for f, _ in resonances[:3]])
    np.testing.assert_allclose(got, want, rtol=0.08)
    np.testing.assert_allclose(got, ref, rtol=0.03)


def test_h1_h2_follows_the_glottal_source():
    """A steeper source roll-off (a more breathy, less pressed voice) raises H1-H2; a
    formant near F3 made stronger lowers H1-A3."""
    def h1_h2_and_a3(y):
        o = ours(y)
        frames = voice.voice_frames(o["sp"], o["f0"], o["hnr"], o["formants"][2], SR,
                                    CFG.n_fft)
        return np.nanmedian(frames[1]), np.nanmedian(frames[2])

    y = vowel(150)
    steep = scipy.signal.lfilter([1.0], [1.0, -0.9], y).astype(np.float32)
    steep /= np.abs(steep).max() * 2
    assert h1_h2_and_a3(steep)[0] > h1_h2_and_a3(y)[0] + 2
    sharp = vowel(150, ((700, 80), (1220, 90), (2600, 40), (3500, 200), (4500, 250)))
    assert h1_h2_and_a3(sharp)[1] < h1_h2_and_a3(y)[1] - 3


def test_h1_a1_and_h1_a2_follow_their_formants():
    """With ``formant_levels = (1, 2, 3)`` (eGeMAPS's three formant levels): a sharper F1
    (narrower bandwidth, on a harmonic: a stronger harmonic there) lowers H1-A1 by more than
    3 dB (measured: 12), a sharper F2 lowers H1-A2 (13), and each leaves the other; the
    H1-A3 columns are the default bank's."""
    full = FeatureBank(FeatureConfig(groups=("voice",), formant_levels=(1, 2, 3)))
    default = FeatureBank(FeatureConfig(groups=("voice",)))

    def levels(y):
        x = dict(zip(full.feature_names, full.extract(y, SR), strict=True))
        return x["h1_a1_p50"], x["h1_a2_p50"]

    base = ((750, 80), (1200, 90), (2600, 120), (3500, 200), (4500, 250))  # on harmonics
    y = vowel(150, base)
    a1, a2 = levels(y)
    sharp_f1 = levels(vowel(150, ((750, 20), *base[1:])))
    sharp_f2 = levels(vowel(150, (base[0], (1200, 20), *base[2:])))
    assert sharp_f1[0] < a1 - 3 and abs(sharp_f1[1] - a2) < abs(sharp_f1[0] - a1)
    assert sharp_f2[1] < a2 - 3 and abs(sharp_f2[0] - a1) < abs(sharp_f2[1] - a2)
    x = dict(zip(full.feature_names, full.extract(y, SR), strict=True))
    ref = dict(zip(default.feature_names, default.extract(y, SR), strict=True))
    assert set(ref) < set(x) and all(x[k] == v for k, v in ref.items())


def test_silence_and_noise_leave_voice_and_formant_columns_undefined_not_nan():
    bank = FeatureBank(FeatureConfig(groups=("voice", "formants")))
    rng = np.random.default_rng(0)
    for y in (np.zeros(SR // 2, np.float32), 0.1 * rng.standard_normal(SR // 2)):
        x = bank.extract(y.astype(np.float32), SR)
        assert np.isfinite(x).all()
        undefined = set(bank.undefined(y.astype(np.float32), SR))
        assert {"jitter_local", "shimmer_local_db", "hnr_mean", "f1_mean", "b3_p50"} <= undefined
        names = bank.feature_names
        assert all(x[names.index(n)] == 0 for n in undefined)


def test_a_vowel_defines_every_voice_and_formant_column():
    bank = FeatureBank(FeatureConfig(groups=("voice", "formants")))
    y = vowel(140, jitter=0.01, shimmer=0.04)
    assert bank.undefined(y, SR) == []
    x = dict(zip(bank.feature_names, bank.extract(y, SR), strict=True))
    assert 600 < x["f1_p50"] < 800 and 1100 < x["f2_p50"] < 1350
    assert 0.003 < x["jitter_local"] < 0.02


@pytest.mark.realdata
@pytest.mark.skipif(not os.environ.get("SERBENCH_DATA"), reason="needs SERBENCH_DATA")
def test_on_real_speech_our_voice_measures_track_praats():
    """Ten RAVDESS files (two actors; neutral, happy, surprised; both intensities): per file, jitter
    and shimmer correlate with Praat's (r > 0.7) and F1, F2 medians over frames both call
    voiced lie within 12 % of Praat's on average."""
    from pathlib import Path

    from benchmark.audio import load

    root = Path(os.environ["SERBENCH_DATA"]) / "ravdess"
    files = sorted(root.glob("Actor_0[12]/03-01-0[158]-0[12]-01-01-*.flac"))
    assert len(files) == 10  # neutral has one intensity
    rows = []
    for f in files:
        y = load(f, SR)
        o = ours(y)
        snd = parselmouth.Sound(y.astype(np.float64), SR)
        ref = praat_perturbation(y)
        fo = snd.to_formant_burg(max_number_of_formants=5, maximum_formant=5500)
        voiced = np.flatnonzero(o["f0"] > 0)
        times = voiced * CFG.hop_length / SR
        pf = np.array([[fo.get_value_at_time(k, t) for t in times] for k in (1, 2)])
        rel = np.nanmedian(np.abs(o["formants"][:2, voiced] - pf) / pf, axis=1)
        rows.append((*o["perturbation"][[0, 2]], *ref[[0, 2]], *rel))
    rows = np.array(rows)
    assert np.corrcoef(rows[:, 0], rows[:, 2])[0, 1] > 0.7  # jitter
    assert np.corrcoef(rows[:, 1], rows[:, 3])[0, 1] > 0.7  # shimmer
    assert rows[:, 4].mean() < 0.12 and rows[:, 5].mean() < 0.12


def test_envelope_rows_are_summarised_over_voiced_frames_and_energy_over_all():
    """A vowel then as long a stretch of noise: the MFCC and spectral statistics are those of
    the voiced frames alone (the noise changes nothing), RMS statistics those of all frames;
    a signal with no voiced frame is summarised over all of its frames."""
    from features.functionals import functionals

    bank = FeatureBank(FeatureConfig(groups=("temporal", "spectral", "mfcc")))
    rng = np.random.default_rng(0)
    v = vowel(140, seconds=0.6)
    y = np.concatenate([v, (0.05 * rng.standard_normal(v.size)).astype(np.float32)])
    matrix, extra = bank.frames(y, SR)
    voiced = extra["f0"] > 0
    assert 0.3 < voiced.mean() < 0.7
    x = dict(zip(bank.feature_names, bank.extract(y, SR), strict=True))
    rows = {n: i for i, n in enumerate(bank.frame_names)}
    for name, frames in (("mfcc_02", voiced), ("centroid", voiced), ("rms", slice(None))):
        row = matrix[rows[name]][frames][None]
        want = functionals(row, CFG.percentiles, CFG.hop_length / SR)[0]
        assert x[f"{name}_mean"] == pytest.approx(want[0], rel=1e-5, abs=1e-6)
        assert x[f"{name}_std"] == pytest.approx(want[1], rel=1e-5, abs=1e-6)
        if name != "mfcc_02":  # the MFCC statics keep mean and std only (mfcc_functionals)
            assert x[f"{name}_p90"] == pytest.approx(want[6], rel=1e-5, abs=1e-6)
    noise = (0.05 * rng.standard_normal(SR // 2)).astype(np.float32)
    matrix, extra = bank.frames(noise, SR)
    assert not (extra["f0"] > 0).any()
    got = dict(zip(bank.feature_names, bank.extract(noise, SR), strict=True))["mfcc_02_mean"]
    assert got == pytest.approx(matrix[rows["mfcc_02"]].mean(), rel=1e-5)


def test_formant_roots_are_numpys_roots():
    """The Aberth iteration (warm-started frame to frame) finds the roots ``numpy.roots``
    finds, on the LPC models of a real-like vowel sequence and of random stable models."""
    rng = np.random.default_rng(0)
    y = np.concatenate([vowel(120, r) for r in (
        ((700, 80), (1220, 90), (2600, 120), (3500, 200), (4500, 250)),
        ((300, 60), (2250, 100), (3000, 150), (3700, 200), (4600, 250)))])
    sp = spectra(y, CFG)
    f0, _ = pitch.pitch(sp, CFG)
    a, fs = formants.lpc(sp, np.flatnonzero(f0 > 0), SR, CFG.n_fft)
    poles = rng.uniform(0.3, 0.98, (50, 5)) * np.exp(1j * rng.uniform(0.05, 3.0, (50, 5)))
    random = np.array([np.real(np.poly(np.concatenate([p, p.conj()]))) for p in poles])
    for models in (a, random):
        got = formants.poles_to_formants(models, fs, n=3)
        for i, row in enumerate(models):
            r = np.roots(row)
            f = np.angle(r) * fs / (2 * np.pi)
            keep = (f > formants.EDGE_HZ) & (f < fs / 2 - formants.EDGE_HZ)
            order = np.argsort(f[keep])[:3]
            np.testing.assert_allclose(got[: len(order), i], f[keep][order], rtol=1e-8)
            bw = -np.log(np.abs(r[keep][order])) * fs / np.pi
            np.testing.assert_allclose(got[3: 3 + len(order), i], bw, rtol=1e-6, atol=1e-6)


def test_the_warp_costs_nothing_where_no_mfcc_reads_it():
    """``vtln`` warps the MFCCs' filters only: a bank without MFCCs neither tracks F0 nor
    finds formants for it, and gives what it gives unwarped."""
    y = vowel(120, ((700, 80), (1220, 90), (2600, 120), (3500, 200), (4500, 250)))
    for groups in (("temporal",), ("temporal", "chroma", "logmel")):
        warped, plain = (FeatureBank(FeatureConfig(groups=groups, vtln=v)) for v in (True, False))
        assert not {"f0", "formants"} & set(warped.frames(y, SR)[1])
        np.testing.assert_array_equal(warped.extract(y, SR), plain.extract(y, SR))
    assert "formants" in FeatureBank(FeatureConfig(groups=("mfcc",))).frames(y, SR)[1]


def test_the_vocal_tract_warp_reads_a_shorter_tract_as_the_reference():
    """A vowel whose five resonances sit 15 % higher (a shorter vocal tract, as a woman's
    against a man's) gets a warp near 1.15 times the original's, and its warped cepstrum
    (``vtln``) lies at most half as far from the original's as the plain cepstrum does."""
    base = ((700, 80), (1220, 90), (2600, 120), (3500, 200), (4500, 250))
    y = vowel(120, base)
    short = vowel(120, tuple((1.15 * f, 1.15 * b) for f, b in base))
    warps = [formants.warp_factor(ours(v)["formants"][2]) for v in (y, short)]
    assert warps[1] / warps[0] == pytest.approx(1.15, abs=0.04)

    def cepstrum(bank, v):
        x = dict(zip(bank.feature_names, bank.extract(v, SR), strict=True))
        return np.array([x[f"mfcc_{i:02d}_mean"] for i in range(1, 13)])

    plain = FeatureBank(FeatureConfig(groups=("mfcc",), vtln=False))
    warped = FeatureBank(FeatureConfig(groups=("mfcc",), vtln=True))
    moved = np.linalg.norm(cepstrum(plain, short) - cepstrum(plain, y))
    assert np.linalg.norm(cepstrum(warped, short) - cepstrum(warped, y)) < 0.5 * moved
