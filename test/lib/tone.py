"""Finding a tone in received audio: an FFT of the samples, the strongest frequency and
how far it stands above the rest. Shared by the WebRTC media tests (webrtc_media.py) and
the SIP phone tests (baresip.py); numpy only.
"""
from dataclasses import dataclass

import numpy as np

RATE = 48000


@dataclass
class Tone:
    """What detect_tone found: the strongest frequency and how far (dB) it stands above
    the strongest bin away from it."""
    ok: bool
    peak_hz: float
    margin_db: float
    seconds: float

    def __str__(self):
        return (f"peak {self.peak_hz:.1f} Hz, {self.margin_db:.1f} dB above the rest, "
                f"{self.seconds:.2f} s analysed")


def detect_tone(samples, freq, rate=RATE, tolerance=10.0, margin_db=20.0, guard=50.0):
    """FFT (Hann window) of mono samples: ok when the peak is within tolerance Hz of freq
    and at least margin_db above every bin farther than guard Hz from the peak (the rest
    of the spectrum, DC excluded)."""
    x = np.asarray(samples, dtype=np.float64)
    seconds = len(x) / rate
    if len(x) < rate // 10:
        return Tone(False, 0.0, 0.0, seconds)
    x = x - x.mean()
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    hz = np.fft.rfftfreq(len(x), 1.0 / rate)
    power[hz < 20] = 0
    peak = int(np.argmax(power))
    rest = power[np.abs(hz - hz[peak]) > guard]
    if power[peak] <= 0:
        return Tone(False, float(hz[peak]), 0.0, seconds)
    margin = 10 * np.log10(power[peak] / max(rest.max(), 1e-12))
    return Tone(abs(hz[peak] - freq) <= tolerance and margin >= margin_db,
                float(hz[peak]), float(margin), seconds)
