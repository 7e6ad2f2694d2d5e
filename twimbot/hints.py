"""Department words: the built-in section hints for the TWIM/hebbot department names.

A section whose config sets no ``hints`` gets :data:`DEFAULT_HINTS` for its name, or else
its title as a phrase (:func:`title_hints`), so that an imported hebbot config also sorts
entries of projects it does not know (SPEC §5). :mod:`twimbot.classify` compiles and weighs
them; this module only holds the words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from twimbot.names import WORD_RUN_RE, nfc

__all__ = ["DEFAULT_HINTS", "NEUTRAL_HINTS", "title_hints"]


def _hints(words: str) -> tuple[str, ...]:
    return tuple(words.split("|"))


# Department words of the TWIM posts, keyed by the hebbot TWIM section names. They only
# decide entries that no project claims: spec updates, talks, projects the config lacks.
DEFAULT_HINTS: Final[Mapping[str, tuple[str, ...]]] = {
    "spec": _hints(
        "spec|specification|spec update|Matrix Spec Change|MSC|MSCs|Spec Core Team|SCT|FCP"
        "|final comment period|IETF|MIMI"
    ),
    "talks": _hints(
        "talk|meetup|meet-up|conference|FOSDEM|presentation|slides|keynote|workshop|devroom"
        "|lightning talk|speaker|webinar|livestream|podcast|booth|Matrix Conference"
    ),
    "wgs": _hints("working group|WG"),
    "status": _hints(
        "Foundation|Governing Board|Guardians|annual report|membership|Silver member|Gold member"
        "|Platinum member|Associate member|Managing Director|post-mortem|postmortem|outage"
    ),
    "elections": _hints("election|candidate|ballot|voting|nomination"),
    "social": _hints("social good|nonprofit|non-profit|NGO|charity|humanitarian"),
    "tns": _hints(
        "Trust & Safety|Trust and Safety|T&S|moderation|moderator|abuse|spam|policy list"
        "|ban list|CSAM"
    ),
    "gsoc": _hints(
        "GSoC|Google Summer of Code|Outreachy|research|thesis|student|PhD|academic|academia"
        "|university"
    ),
    "p2p": _hints("P2P|peer-to-peer|mesh network"),
    "servers": _hints("homeserver implementation|server implementation|federation"),
    "homeserver-deployment": _hints(
        "Helm|Helm chart|Kubernetes|k8s|docker-compose|Ansible|playbook|deployment"
    ),
    "bridges": _hints(
        "bridge|bridging|bridged|puppeting|appservice|IRC|XMPP|Telegram|WhatsApp|Discord|Slack"
    ),
    "clients": _hints(
        "client|app|Android|iOS|desktop|macOS|Flatpak|F-Droid|App Store|Play Store|TestFlight"
        "|messenger|UI|UX|room list|user interface|dark mode|accessibility|screen reader"
    ),
    "widgets": _hints("widget"),
    "voip": _hints("VoIP|video call|voice call|group call|WebRTC|LiveKit|MatrixRTC|Jitsi"),
    "encryption": _hints(
        "encryption|E2EE|end-to-end|cross-signing|Olm|Megolm|MLS|key backup|cryptography"
        "|decrypt|decryption|unable to decrypt|UTD"
    ),
    "sdks": _hints("SDK|library|framework|bindings|crate|npm|PyPI"),
    "ops": _hints("monitoring|Prometheus|Grafana|admin tool|administration|sysadmin"),
    "services": _hints("hosting|managed hosting|hosted|provider"),
    "iot": _hints("IoT|Internet of Things|Home Assistant|sensor|smart home|MQTT"),
    "bots": _hints("bot|chatbot|maubot"),
    "eventvideos": _hints("recording|YouTube|PeerTube"),
    "projects": _hints("project|side project|prototype|proof of concept|fork|forked|plugin"),
    "build": _hints("built on Matrix|built with Matrix|powered by Matrix"),
    "guides": _hints(
        "guide|tutorial|howto|how to|walkthrough|step-by-step|step by step|documentation|blog post"
    ),
    "hackathons": _hints("hackathon|hackfest|game jam"),
    "jobs": _hints("hiring|job opening|job offer|vacancy"),
    "news": _hints(
        "in the news|in the press|press|press coverage|media coverage|coverage|covered|covers"
        "|article|press release|journalist|newspaper|magazine|interview|radio"
    ),
    "room-of-the-week": _hints("room of the week"),
    "stats": _hints("federation stats|statistics|stats"),
    "thoughts": _hints("final thoughts"),
}

# Words that contain a department word but say nothing of the department: self-hosting is
# what a project offers, not news of a hosting service. They take their span from the hints.
NEUTRAL_HINTS: Final = _hints("self-hosting|self-hosted|self-host|selfhosted|selfhosting")
_DEPT_RE = re.compile(r"^\W*(?:(?:dept|department)\.?\s+of\s+)?(?:the\s+)?", re.IGNORECASE)


def title_hints(title: str) -> tuple[str, ...]:
    """A section's title as its hint when nothing else is known: "Dept of Non Chat Clients 🎛️"
    → "Non Chat Clients". Only the whole phrase, since single title words ("Room", "Week",
    "Good") are ordinary words."""
    words = WORD_RUN_RE.findall(_DEPT_RE.sub("", nfc(title)))
    phrase = " ".join(words)
    return (phrase,) if len(words) > 1 or len(phrase) >= 3 else ()
