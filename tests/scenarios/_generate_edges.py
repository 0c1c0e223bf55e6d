#!/usr/bin/env python3
"""Writes tests/scenarios/51-*/ … 99-*/ (acceptance format): edge cases of every rule found
by a second reading of ../shared/spec/rules.md and contract.md — exact window and month-end
days, accepted/rejected pairs, known_at, voids, merges, back-dated breaks, error lines.
Run from anywhere: python3 _generate_edges.py

Every expected value is worked out by hand from rules.md (the helpers in _lib.py only do the
R1 calendar arithmetic). Ids are seeded by the scenario name: re-running gives the same files.
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _lib import *  # noqa

ROOT = os.path.dirname(os.path.abspath(__file__))
ALL = []
def scenario(name, why):
    s = Scenario(name, why); ALL.append(s); return s

AP, LAPS, SP, GOLD, SILVER = "action_pack", "learning_action_pack", "solutions_partner", "legacy_gold", "legacy_silver"
UNINSTALL = "uninstall_on_premises_software"
def obl(since, offer): return {"kind": UNINSTALL, "since": since, "offer": offer}


def rejected_lines(s, events, checks, note):
    """One input file of `events`, appended once per check: each (line, rule, needles) must be
    reported (the runner checks one line per step)."""
    lines = [json.dumps(s.stamp(e)) for e in events]
    for i, (ln, rule, needles) in enumerate(checks):
        s.step(None, raw=lines, expect="rejected", rule=rule, line=ln, stderr_any=needles, note=f"{note} [{i+1}]")

# ---------------------------------------------------------------- 51 R1/R9/R17
s = scenario("51-r01-dec31-start-lapses-on-activate-by",
  "R1/R9/R17: start 2023-12-31 -> AD 2024-12-31, window 2025-01-01..2025-01-30, activate-by 2025-01-31 = AD+31 = "
  "lapse day: a redemption on 2025-01-30 is accepted, on 2025-01-31 (activate-by, but lapsed) rejected; forfeited/lost/obligation from 2025-01-31.")
A = "audit-dec31"; S = "2023-12-31"
s.accept(s.verify(A, "2023-12-20"), s.buy(A, S, AP), s.redeem(A, "2025-01-30", "azure_credits"))
s.reject(["R9", "R17", "R25"], s.redeem(A, "2025-01-31", "support_and_advisory"), note="activate-by day, but AD+31")
s.q(A, "2025-01-30", {"memberships": ex([{"line": AP, "offer": AP, "status": "in_renewal_window", "start": S,
    "anniversary": "2024-12-31", "renewal_window": {"opens": "2025-01-01", "closes": "2025-01-30"}, "activate_by": "2025-01-31"}]),
    "benefits": [ben(AP, S, "support_and_advisory", "available", activate_by="2025-01-31", unlocked=None, expires=None),
                 ben(AP, S, "azure_credits", "redeemed", unlocked="2025-01-30", expires="2026-01-30")],
    "obligations": ex([])})
s.q(A, "2025-01-31", {"memberships": ex([{"offer": AP, "status": "expired", "start": S}]),
    "benefits": [ben(AP, S, "support_and_advisory", "forfeited", unlocked=None),
                 ben(AP, S, "developer_tools", "forfeited"),
                 ben(AP, S, "azure_credits", "redeemed", unlocked="2025-01-30", expires="2026-01-30"),
                 ben(AP, S, "on_premises_software", "lost")],
    "obligations": ex([obl("2025-01-31", AP)])})

# ---------------------------------------------------------------- 52 R1 month ends
s = scenario("52-r01-month-end-starts",
  "R1: +12/+13 months clamp: start 2024-03-31 -> AD 2025-03-31, activate-by 2025-04-30, window 2025-04-01..2025-04-30; "
  "start 2023-01-29 -> AD 2024-01-29, activate-by 2024-02-29 (leap), window 2024-01-30..2024-02-28; start 2023-08-31 -> "
  "activate-by 2024-09-30 = window close; a redemption on 2025-04-30 (activate-by = AD+30) is accepted.")
A, B, C = "audit-mar31", "audit-jan29", "audit-aug31"
s.accept(s.verify(A, "2024-03-01"), s.buy(A, "2024-03-31", AP), s.verify(B, "2023-01-01"), s.buy(B, "2023-01-29", LAPS),
         s.verify(C, "2023-08-01"), s.buy(C, "2023-08-31", AP))
s.accept(s.redeem(A, "2025-04-30", "marketing" if False else "azure_credits"), note="activate-by day = AD+30")
s.reject(["R9", "R17", "R25"], s.redeem(B, "2024-02-29", "azure_credits"), note="activate-by 2024-02-29 but lapsed that day")
s.q(A, "2025-04-30", {"memberships": ex([{"offer": AP, "status": "in_renewal_window", "start": "2024-03-31",
    "anniversary": "2025-03-31", "renewal_window": {"opens": "2025-04-01", "closes": "2025-04-30"}, "activate_by": "2025-04-30"}]),
    "benefits": [ben(AP, "2024-03-31", "azure_credits", "redeemed", unlocked="2025-04-30", expires="2026-04-30")]})
s.q(A, "2025-05-01", {"memberships": ex([{"offer": AP, "status": "expired"}]),
    "benefits": [ben(AP, "2024-03-31", "support_and_advisory", "forfeited")]})
s.q(B, "2024-02-28", {"memberships": ex([{"offer": LAPS, "status": "in_renewal_window", "start": "2023-01-29",
    "anniversary": "2024-01-29", "renewal_window": {"opens": "2024-01-30", "closes": "2024-02-28"}, "activate_by": "2024-02-29"}]),
    "benefits": [ben(LAPS, "2023-01-29", "azure_credits", "available", activate_by="2024-02-29")]})
s.q(B, "2024-02-29", {"memberships": ex([{"offer": LAPS, "status": "expired"}]),
    "benefits": [ben(LAPS, "2023-01-29", "azure_credits", "forfeited")], "obligations": ex([])})
s.q(C, "2024-09-30", {"memberships": ex([{"offer": AP, "status": "in_renewal_window", "start": "2023-08-31",
    "anniversary": "2024-08-31", "renewal_window": {"opens": "2024-09-01", "closes": "2024-09-30"}, "activate_by": "2024-09-30"}])})

# ---------------------------------------------------------------- 53 R2
s = scenario("53-r02-same-date-recording-order",
  "R2: on one date events apply in recording order: a redemption recorded before the same-day purchase is rejected "
  "(and the whole file with it); recorded after it, accepted; a back-dated same-date redemption recorded weeks later "
  "folds in after the purchase.")
A = "audit-sameday"
s.accept(s.verify(A, "2024-05-01"))
s.reject(["R2", "R5", "R17", "R23"], s.redeem(A, "2024-05-06", "azure_credits", rec="2024-05-06T10:00:00Z"),
         s.buy(A, "2024-05-06", AP, rec="2024-05-06T10:01:00Z"), line=1, note="redemption recorded before the purchase")
s.accept(s.buy(A, "2024-05-06", AP, rec="2024-05-06T10:02:00Z"), s.redeem(A, "2024-05-06", "azure_credits", rec="2024-05-06T10:03:00Z"))
s.accept(s.redeem(A, "2024-05-06", "support_and_advisory", rec="2024-05-20T10:00:00Z"), note="back-dated to the start date")
s.q(A, "2024-05-06", {"memberships": ex([mem(AP, "active", "2024-05-06")]),
    "benefits": [ben_red(AP, "2024-05-06", "azure_credits", "2024-05-06"), ben_red(AP, "2024-05-06", "support_and_advisory", "2024-05-06")]})
s.q(A, "2024-05-06", {"benefits": [ben(AP, "2024-05-06", "support_and_advisory", "available", unlocked=None)]},
    known_at="2024-05-19T23:59:59Z")

# ---------------------------------------------------------------- 54 R10
s = scenario("54-r10-what-needs-a-verified-profile",
  "R10: only a *first* Action Pack purchase and renewals need a verified profile: a second Action Pack purchase after "
  "a lapse needs no new verification; a solutions_partner purchase and a legacy purchase need none; a legacy renewal "
  "without a verification after its start is rejected, with one accepted.")
P, Q, G = "audit-r10-ap", "audit-r10-sp", "audit-r10-gold"
s.accept(s.verify(P, "2022-12-01"), s.buy(P, "2023-01-10", AP))
s.accept(s.buy(P, "2024-03-01", AP), note="after lapse (2024-02-10), no new verification")
s.accept(s.qualify(Q, "2024-01-05", "security", 80), s.buy(Q, "2024-01-10", SP), note="never verified")
s.accept(s.buy(G, "2022-03-01", GOLD), note="never verified")
s.reject("R10", s.renew(G, "2023-03-10", GOLD), note="no verification after the start")
s.accept(s.verify(G, "2023-03-05"), s.renew(G, "2023-03-10", GOLD))
s.q(P, "2024-03-01", {"profile_verified": "2022-12-01", "memberships": ex([mem(AP, "active", "2024-03-01")])})
s.q(Q, "2024-01-10", {"profile_verified": None, "memberships": ex([mem(SP, "active", "2024-01-10")])})
s.q(G, "2023-03-10", {"profile_verified": "2023-03-05", "memberships": ex([mem(GOLD, "active", "2023-03-10")])})

# ---------------------------------------------------------------- 55 R11/R24
s = scenario("55-r11-laps-against-ap-window-and-after-lapse",
  "R11/R24: a learning_action_pack purchase while an action_pack is in its window (2024-02-15, AD+30 = 2024-03-02) is "
  "rejected; on AD+31 (2024-03-03) accepted; LAPS provides no on-premises software so the uninstall obligation from "
  "the lapse stays.")
A = "audit-laps-after"
s.accept(s.verify(A, "2023-01-01"), s.buy(A, "2023-02-01", AP), s.key(A, "2023-02-02", "K-AU-1", 2))
s.reject(["R11", "R12"], s.buy(A, "2024-02-15", LAPS), note="in the window")
s.reject(["R11", "R12"], s.buy(A, "2024-03-02", LAPS), note="AD+30")
s.accept(s.buy(A, "2024-03-03", LAPS), note="AD+31")
s.q(A, "2024-03-02", {"memberships": ex([mem(AP, "in_renewal_window", "2023-02-01") | {"renewal_window": {"opens": "2024-02-02", "closes": "2024-03-02"}}]),
    "obligations": ex([])})
s.q(A, "2024-03-03", {"memberships": ex([mem(LAPS, "active", "2024-03-03")]),
    "obligations": ex([obl("2024-03-03", AP)]),
    "product_keys": [{"key": "K-AU-1", "status": "unlicensed"}],
    "benefits": [ben(AP, "2023-02-01", "on_premises_software", "lost"), ben(LAPS, "2024-03-03", "azure_credits", "available")]})

# ---------------------------------------------------------------- 56 R24 package line
s = scenario("56-r24-package-line-obligation-independent-of-action-pack",
  "R24/R4: a lapsed solutions_partner term owes the uninstall obligation from AD+31 although the Action Pack line "
  "still provides on-premises software (another line); only the package term's key is unlicensed; a new "
  "solutions_partner purchase ends that obligation; the Action Pack's own lapse raises its own.")
A = "audit-pkg-obl"
s.accept(s.verify(A, "2023-01-02"), s.qualify(A, "2023-01-05", "security", 80), s.buy(A, "2023-01-10", SP),
         s.buy(A, "2023-06-01", AP), s.key(A, "2023-02-01", "K-SP-1", 3, offer=SP), s.key(A, "2023-06-05", "K-AP-1", 3, offer=AP))
s.accept(s.qualify(A, "2024-03-01", "modern_work", 75), s.buy(A, "2024-03-05", SP))
s.q(A, "2024-02-09", {"obligations": ex([]), "product_keys": [{"key": "K-SP-1", "status": "usable"}, {"key": "K-AP-1", "status": "usable"}]})
s.q(A, "2024-02-10", {"memberships": ex([mem(SP, "expired", "2023-01-10"), mem(AP, "active", "2023-06-01")]),
    "obligations": ex([obl("2024-02-10", SP)]),
    "product_keys": ex([{"key": "K-SP-1", "status": "unlicensed"}, {"key": "K-AP-1", "status": "usable"}]),
    "benefits": [ben(SP, "2023-01-10", "on_premises_software", "lost"),
                 ben(AP, "2023-06-01", "on_premises_software", "redeemed", unlocked="2023-06-05", expires=None)]})
s.q(A, "2024-03-05", {"obligations": ex([]), "memberships": ex([mem(SP, "active", "2024-03-05"), mem(AP, "active", "2023-06-01")])})
s.q(A, "2024-07-02", {"obligations": ex([obl("2024-07-02", AP)]),
    "product_keys": ex([{"key": "K-SP-1", "status": "unlicensed"}, {"key": "K-AP-1", "status": "unlicensed"}])})

# ---------------------------------------------------------------- 57 R12/R14
s = scenario("57-r12-silver-to-gold-before-retirement",
  "R12/R14: a legacy_silver term renewed into legacy_gold before 2022-09-30 holds gold on 2022-09-30; after "
  "retirement it can renew gold, not silver.")
A = "audit-silver-gold"
s.accept(s.buy(A, "2021-06-01", SILVER), s.verify(A, "2022-06-10"), s.renew(A, "2022-06-15", GOLD))
s.accept(s.verify(A, "2023-06-20"))
s.reject("R14", s.renew(A, "2023-06-20", SILVER), note="held gold on 2022-09-30")
s.accept(s.renew(A, "2023-06-25", GOLD))
s.q(A, "2022-09-30", {"memberships": ex([mem(GOLD, "active", "2022-06-15")])})
s.q(A, "2022-06-14", {"memberships": ex([mem(SILVER, "in_renewal_window", "2021-06-01")])})
s.q(A, "2023-06-25", {"memberships": ex([mem(GOLD, "active", "2023-06-25") | {"anniversary": "2024-06-25"}])})

# ---------------------------------------------------------------- 58 R14 boundaries
s = scenario("58-r14-retirement-day-boundaries",
  "R14: a gold term in its window on 2022-09-30 (AD 2022-09-29) renews gold on AD+30 (2022-10-29); a silver term "
  "that lapsed on 2022-09-30 can be bought again that same day (purchase dated on, not after, 2022-09-30) and later "
  "renewed; a gold purchase on 2022-10-01 after a lapse is rejected.")
A, B, C = "audit-ret-window", "audit-ret-rebuy", "audit-ret-late"
s.accept(s.buy(A, "2021-09-29", GOLD), s.buy(B, "2021-08-30", SILVER), s.buy(C, "2021-08-30", GOLD))
s.accept(s.buy(B, "2022-09-30", SILVER), note="old silver lapsed 2022-09-30")
s.reject(["R14", "R9"], s.buy(C, "2022-10-01", GOLD))
s.accept(s.verify(A, "2022-10-01"), s.renew(A, "2022-10-29", GOLD), note="AD+30")
s.accept(s.verify(B, "2023-09-15"), s.renew(B, "2023-10-01", SILVER))
s.q(A, "2022-09-30", {"memberships": ex([mem(GOLD, "in_renewal_window", "2021-09-29") | {"anniversary": "2022-09-29",
    "renewal_window": {"opens": "2022-09-30", "closes": "2022-10-29"}}])})
s.q(A, "2022-10-29", {"memberships": ex([mem(GOLD, "active", "2022-10-29")])})
s.q(B, "2022-09-30", {"memberships": ex([mem(SILVER, "active", "2022-09-30")])})
s.q(B, "2022-09-29", {"memberships": ex([mem(SILVER, "in_renewal_window", "2021-08-30")])})
s.q(B, "2023-10-01", {"memberships": ex([mem(SILVER, "active", "2023-10-01")])})
s.q(C, "2022-10-01", {"memberships": ex([mem(GOLD, "expired", "2021-08-30")])})

# ---------------------------------------------------------------- 59 R13 scores
s = scenario("59-r13-score-boundaries",
  "R13/contract: score 70 and 100 accepted, 69 rejected (R13), 101 rejected (out of 0-100); designations listed with "
  "their scores and dates.")
A = "audit-scores"
s.accept(s.qualify(A, "2024-01-05", "modern_work", 70), s.qualify(A, "2024-01-06", "security", 100))
s.reject(["R13", "R30"], s.qualify(A, "2024-01-07", "data_and_ai", 69))
s.step([s.qualify(A, "2024-01-07", "data_and_ai", 101)], expect="rejected", line=1, note="above 100")
s.step([s.qualify(A, "2024-01-07", "sales", 90)], expect="rejected", line=1, note="unknown area")
s.q(A, "2024-01-07", {"designations": ex([
    {"solution_area": "modern_work", "qualified": "2024-01-05", "score": 70, "source": A},
    {"solution_area": "security", "qualified": "2024-01-06", "score": 100, "source": A}]), "memberships": ex([])})

# ---------------------------------------------------------------- 60 R17 forfeit on lapse before activate-by
s = scenario("60-r17-lapse-comes-before-activate-by",
  "R17/R9: start 2023-03-01: window closes 2024-03-31, activate-by 2024-04-01 = AD+31: unredeemed benefits and "
  "unactivated tokens are forfeited on 2024-04-01 although that is the activate-by date; a token activation that day "
  "is rejected.")
A = "audit-lapse-first"; S = "2023-03-01"
s.accept(s.verify(A, "2023-02-20"), s.buy(A, S, AP), s.token(A, "2023-03-05", "T-LF-1", 5), s.token(A, "2023-03-05", "T-LF-2", 5),
         s.redeem(A, "2024-03-31", "azure_credits"), s.activate_token(A, "2024-03-31", "T-LF-1", "lf.onmicrosoft.com", 5))
s.reject(["R19", "R9", "R17", "R25"], s.activate_token(A, "2024-04-01", "T-LF-2", "lf.onmicrosoft.com", 5))
s.reject(["R9", "R17", "R25"], s.redeem(A, "2024-04-01", "support_and_advisory"))
s.q(A, "2024-03-31", {"tokens": [{"token": "T-LF-2", "status": "issued"}, {"token": "T-LF-1", "status": "activated", "expires": "2025-03-31"}],
    "benefits": [ben(AP, S, "support_and_advisory", "available", activate_by="2024-04-01"),
                 ben(AP, S, "cloud_services", "redeemed", unlocked="2024-03-31", expires="2025-03-31")]})
s.q(A, "2024-04-01", {"memberships": ex([mem(AP, "expired", S)]),
    "tokens": [{"token": "T-LF-2", "status": "forfeited", "activated": None}, {"token": "T-LF-1", "status": "activated"}],
    "benefits": [ben(AP, S, "support_and_advisory", "forfeited"), ben(AP, S, "developer_tools", "forfeited"),
                 ben_red(AP, S, "azure_credits", "2024-03-31"), ben_red(AP, S, "cloud_services", "2024-03-31")]})

# ---------------------------------------------------------------- 61 R17/R19/R23 renewed term tokens
s = scenario("61-r19-old-term-tokens-after-renewal",
  "R17/R19/R23: after a renewal (2024-03-10) the old term's token can still be activated until the old term's "
  "activate-by (2024-04-01), not after; a token issued after the renewal without `offer` goes to the old term "
  "(earliest activate-by, R23) and is forfeited with it; the old term's cloud_services is unlocked by the activation.")
A = "audit-renewed-tokens"; S1, S2 = "2023-03-01", "2024-03-10"
s.accept(s.verify(A, "2023-02-20"), s.buy(A, S1, AP), s.token(A, "2023-04-01", "T-RT-1", 5), s.token(A, "2023-04-01", "T-RT-2", 5),
         s.verify(A, "2024-03-05"), s.renew(A, S2, AP), s.token(A, "2024-03-20", "T-RT-3", 7))
s.accept(s.activate_token(A, "2024-04-01", "T-RT-1", "rt.onmicrosoft.com", 5), note="old term's activate-by")
s.reject("R19", s.activate_token(A, "2024-04-02", "T-RT-2", "rt.onmicrosoft.com", 5), note="old term's activate-by passed")
s.reject("R19", s.activate_token(A, "2024-04-05", "T-RT-3", "rt.onmicrosoft.com", 7), note="T-RT-3 belongs to the old term")
s.accept(s.token(A, "2024-04-05", "T-RT-4", 3), s.activate_token(A, "2024-04-06", "T-RT-4", "rt.onmicrosoft.com", 3))
s.q(A, "2024-04-06", {"memberships": ex([mem(AP, "active", S2)]),
    "tokens": ex([{"token": "T-RT-1", "status": "activated", "activated": "2024-04-01", "expires": "2025-04-01"},
                  {"token": "T-RT-2", "status": "forfeited"}, {"token": "T-RT-3", "status": "forfeited"},
                  {"token": "T-RT-4", "status": "activated", "expires": "2025-04-06"}]),
    "benefits": [ben_red(AP, S1, "cloud_services", "2024-04-01"), ben_red(AP, S2, "cloud_services", "2024-04-06")]})

# ---------------------------------------------------------------- 62 R18/R24 keys across renewal and lapse
s = scenario("62-r18-on-premises-across-renewal-then-lapse",
  "R18/R24: a key of the first term stays usable after a renewal into action_pack (right carried on, old benefit "
  "still redeemed, no obligation); a key issued after the renewal belongs to the new term; when the new term lapses "
  "(2025-02-20) both keys are unlicensed, both on-premises benefits lost, and one obligation is owed.")
A = "audit-onprem-chain"; S1, S2 = "2023-01-10", "2024-01-20"
s.accept(s.verify(A, "2023-01-02"), s.buy(A, S1, AP), s.key(A, "2023-01-15", "K-OC-1", 2), s.verify(A, "2024-01-15"),
         s.renew(A, S2, AP), s.key(A, "2024-02-01", "K-OC-2", 1, kind="single", product="Windows 11 Pro"))
s.q(A, "2024-01-20", {"obligations": ex([]), "product_keys": ex([{"key": "K-OC-1", "status": "usable"}]),
    "benefits": [ben(AP, S1, "on_premises_software", "redeemed", unlocked="2023-01-15", expires=None),
                 ben(AP, S2, "on_premises_software", "available", unlocked=None)]})
s.q(A, "2024-02-01", {"benefits": [ben(AP, S2, "on_premises_software", "redeemed", unlocked="2024-02-01", expires=None)]})
s.q(A, "2025-02-19", {"memberships": ex([mem(AP, "in_renewal_window", S2)]), "obligations": ex([]),
    "product_keys": ex([{"key": "K-OC-1", "status": "usable"}, {"key": "K-OC-2", "status": "usable"}])})
s.q(A, "2025-02-20", {"memberships": ex([mem(AP, "expired", S2)]), "obligations": ex([obl("2025-02-20", AP)]),
    "product_keys": ex([{"key": "K-OC-1", "status": "unlicensed"}, {"key": "K-OC-2", "status": "unlicensed"}]),
    "benefits": [ben(AP, S1, "on_premises_software", "lost"), ben(AP, S2, "on_premises_software", "lost")]})

# ---------------------------------------------------------------- 63 R19 token leap expiry
s = scenario("63-r19-token-leap-day-expiry-and-misc-rejections",
  "R19: a token activated 2024-02-29 expires 2025-02-28 inclusive (cloud_services too); an activation dated before "
  "the issue date is rejected; a token id issued twice is rejected; activating a replaced original is rejected.")
A = "audit-token-leap"
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), s.token(A, "2024-02-20", "T-TL-1", 4),
         s.token(A, "2024-02-25", "T-TL-2", 2))
s.reject("R19", s.activate_token(A, "2024-02-19", "T-TL-1", "tl.onmicrosoft.com", 4), note="before the issue date")
s.accept(s.activate_token(A, "2024-02-29", "T-TL-1", "tl.onmicrosoft.com", 4))
s.reject("R19", s.token(A, "2024-03-01", "T-TL-1", 4), note="token id already issued")
s.accept(s.activate_token(A, "2024-03-01", "T-TL-2", "wrong.onmicrosoft.com", 2), s.replace(A, "2024-03-02", "T-TL-2", "R-TL-2"))
s.reject(["R19", "R20"], s.activate_token(A, "2024-03-03", "T-TL-2", "tl.onmicrosoft.com", 2), note="original was replaced")
s.q(A, "2025-02-28", {"tokens": [{"token": "T-TL-1", "status": "activated", "activated": "2024-02-29", "expires": "2025-02-28"}],
    "benefits": [ben(AP, "2024-01-10", "cloud_services", "redeemed", unlocked="2024-02-29", expires="2025-02-28")]})
s.q(A, "2025-03-01", {"tokens": [{"token": "T-TL-1", "status": "expired"}],
    "benefits": [ben(AP, "2024-01-10", "cloud_services", "expired", unlocked="2024-02-29", expires="2025-02-28")]})
s.q(A, "2024-03-01", {"tokens": [{"token": "T-TL-2", "status": "activated", "replacement_deadline": "2024-03-31", "replaced_by": None}]})
s.q(A, "2024-03-02", {"tokens": [{"token": "T-TL-2", "status": "replaced", "replacement_deadline": None, "replaced_by": "R-TL-2"},
                                 {"token": "R-TL-2", "status": "issued", "seats": 2, "replaces": "T-TL-2", "replacement_deadline": None,
                                  "tenant": None, "activated": None, "expires": None}]})

# ---------------------------------------------------------------- 64 R20
s = scenario("64-r20-replacement-edges",
  "R20: a replacement on the activation day is accepted; dated before the activation (back-dated) rejected; a "
  "replacement id that already exists is rejected; an activated replacement never shows a replacement deadline.")
A = "audit-repl-edges"
s.accept(s.verify(A, "2024-04-01"), s.buy(A, "2024-04-02", AP), s.token(A, "2024-04-03", "T-RE-1", 3),
         s.token(A, "2024-04-03", "T-RE-2", 6), s.activate_token(A, "2024-04-10", "T-RE-1", "oops.onmicrosoft.com", 3),
         s.activate_token(A, "2024-04-10", "T-RE-2", "re.onmicrosoft.com", 6))
s.reject("R20", s.replace(A, "2024-04-09", "T-RE-1", "R-RE-1"), note="dated before the activation")
s.reject(["R19", "R20"], s.replace(A, "2024-04-10", "T-RE-1", "T-RE-2"), note="replacement id exists")
s.accept(s.replace(A, "2024-04-10", "T-RE-1", "R-RE-1"), note="same day as the activation")
s.accept(s.activate_token(A, "2024-04-12", "R-RE-1", "re.onmicrosoft.com", 3))
s.q(A, "2024-04-12", {"tokens": ex([
    {"token": "T-RE-1", "status": "replaced", "replaced_by": "R-RE-1", "replacement_deadline": None, "activated": "2024-04-10"},
    {"token": "T-RE-2", "status": "activated", "replacement_deadline": "2024-05-10"},
    {"token": "R-RE-1", "status": "activated", "activated": "2024-04-12", "expires": "2025-04-12", "replacement_deadline": None,
     "replaces": "T-RE-1", "seats": 3}])})
s.q(A, "2024-05-11", {"tokens": [{"token": "T-RE-2", "status": "activated", "replacement_deadline": None}]})

# ---------------------------------------------------------------- 65 R21
s = scenario("65-r21-key-edges",
  "R21/R24: a key activation dated before its issue is rejected; a key id issued twice is rejected; after a renewal "
  "into learning_action_pack no key can be issued (no term with on-premises software has access); activations "
  "0 are malformed.")
A = "audit-key-edges"
s.accept(s.verify(A, "2023-03-01"), s.buy(A, "2023-03-10", AP), s.key(A, "2023-03-15", "K-KE-1", 2))
s.reject("R21", s.activate_key(A, "2023-03-14", "K-KE-1", "srv-1"), note="before the issue")
s.reject("R21", s.key(A, "2023-03-16", "K-KE-1", 5), note="key id exists")
s.step([s.key(A, "2023-03-16", "K-KE-2", 0)], expect="rejected", line=1, note="0 activations")
s.accept(s.activate_key(A, "2023-03-15", "K-KE-1", "srv-1"), s.verify(A, "2024-03-12"), s.renew(A, "2024-03-15", LAPS))
s.reject(["R21", "R24", "R16"], s.key(A, "2024-03-20", "K-KE-3", 2), note="LAPS term, old term's right ended with the switch")
s.q(A, "2024-03-14", {"product_keys": ex([{"key": "K-KE-1", "status": "usable", "activations_used": 1, "activations_remaining": 1}])})
s.q(A, "2024-03-20", {"product_keys": ex([{"key": "K-KE-1", "status": "unlicensed"}]),
    "obligations": ex([obl("2024-03-15", AP)])})

# ---------------------------------------------------------------- 66 R22 expiry with developer_tools redeemed earlier
s = scenario("66-r22-subscription-expiry-follows-developer-tools",
  "R22/R18: developer_tools redeemed on 2024-01-20 before any assignment: a subscription assigned later expires "
  "with it (2025-01-20); activation after that is rejected. Another account: subscriptions run to their benefit's "
  "expiry even after the membership lapses; assignment after the lapse is rejected.")
A, B = "audit-vs-expiry", "audit-vs-lapse"
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), s.redeem(A, "2024-01-20", "developer_tools"),
         s.assign(A, "2024-03-01", "VS-VE-1", "a@ve.example"), s.assign(A, "2024-03-01", "VS-VE-2", "b@ve.example"),
         s.activate_vs(A, "2024-03-02", "VS-VE-1"))
s.accept(s.verify(B, "2024-01-02"), s.buy(B, "2024-01-10", AP), s.assign(B, "2024-06-01", "VS-VL-1", "a@vl.example"),
         s.activate_vs(B, "2024-06-02", "VS-VL-1"))
s.reject(["R22", "R18"], s.activate_vs(A, "2025-01-21", "VS-VE-2"), note="after the benefit's expiry")
s.accept(s.activate_vs(A, "2025-01-20", "VS-VE-2"), note="on the expiry day")
s.reject(["R22", "R9", "R25"], s.assign(B, "2025-02-10", "VS-VL-2", "b@vl.example"), note="AD+31")
s.q(A, "2024-03-01", {"vs_subscriptions": ex([
    {"subscription": "VS-VE-1", "status": "assigned", "assigned": "2024-03-01", "activated": None, "expires": "2025-01-20"},
    {"subscription": "VS-VE-2", "status": "assigned", "expires": "2025-01-20"}]),
    "benefits": [ben(AP, "2024-01-10", "developer_tools", "redeemed", unlocked="2024-01-20", expires="2025-01-20")]})
s.q(A, "2025-01-21", {"vs_subscriptions": [{"subscription": "VS-VE-1", "status": "expired"}, {"subscription": "VS-VE-2", "status": "expired"}]})
s.q(B, "2025-02-10", {"memberships": ex([mem(AP, "expired", "2024-01-10")]),
    "vs_subscriptions": ex([{"subscription": "VS-VL-1", "status": "active", "expires": "2025-06-01"}]),
    "benefits": [ben(AP, "2024-01-10", "developer_tools", "redeemed", unlocked="2024-06-01", expires="2025-06-01")]})
s.q(B, "2025-06-02", {"vs_subscriptions": [{"subscription": "VS-VL-1", "status": "expired"}]})

# ---------------------------------------------------------------- 67 R22 package-line counts/levels
s = scenario("67-r22-package-terms-enterprise-no-catalog-cap",
  "R22/R30: legacy_gold and solutions_partner terms provide enterprise (and professional) subscriptions in the "
  "number the events assign (no catalog count): five enterprise and one professional under gold are accepted.")
A = "audit-vs-gold"
evs = [s.buy(A, "2022-03-01", GOLD)]
for k in range(1, 6):
    evs.append(s.assign(A, "2022-03-0%d" % (k + 1), "VS-VG-%d" % k, "dev%d@vg.example" % k, level="enterprise"))
evs.append(s.assign(A, "2022-03-08", "VS-VG-P", "pro@vg.example", level="professional"))
s.accept(*evs)
s.q(A, "2022-03-08", {"vs_subscriptions": ex([{"subscription": "VS-VG-%d" % k, "level": "enterprise", "status": "assigned",
                                                "expires": "2023-03-02"} for k in range(1, 6)]
                                              + [{"subscription": "VS-VG-P", "level": "professional", "expires": "2023-03-02"}]),
    "benefits": [ben(GOLD, "2022-03-01", "developer_tools", "redeemed", unlocked="2022-03-02", expires="2023-03-02")]})

# ---------------------------------------------------------------- 68 R22 second user's 90 days
s = scenario("68-r22-reassigned-user-needs-own-90-days",
  "R22: after a reassignment the 90 days run from the *current* user's activation (bob activated 2024-06-10: "
  "unassign on 2024-09-07 rejected, on 2024-09-08 accepted).")
A = "audit-vs-bob"
s.accept(s.verify(A, "2024-02-20"), s.buy(A, "2024-03-01", AP), s.assign(A, "2024-03-02", "VS-VB-1", "alice@vb.example"),
         s.activate_vs(A, "2024-03-05", "VS-VB-1"), s.unassign(A, "2024-06-03", "VS-VB-1"),
         s.assign(A, "2024-06-04", "VS-VB-1", "bob@vb.example"), s.activate_vs(A, "2024-06-10", "VS-VB-1"))
s.reject("R22", s.unassign(A, "2024-09-07", "VS-VB-1"), note="89 days")
s.reject("R22", s.activate_vs(A, "2024-06-11", "VS-VB-1"), note="already activated")
s.accept(s.unassign(A, "2024-09-08", "VS-VB-1"), note="90 days")
s.q(A, "2024-06-10", {"vs_subscriptions": ex([{"subscription": "VS-VB-1", "user": "bob@vb.example", "status": "active",
    "assigned": "2024-06-04", "activated": "2024-06-10", "expires": "2025-03-02"}])})
s.q(A, "2024-06-03", {"vs_subscriptions": ex([{"subscription": "VS-VB-1", "status": "unassigned"}])})
s.q(A, "2024-09-08", {"vs_subscriptions": ex([{"subscription": "VS-VB-1", "status": "unassigned"}])})

# ---------------------------------------------------------------- 69 R23 offer picks line
s = scenario("69-r23-offer-field-and-earliest-activate-by",
  "R23/contract: with solutions_partner (activate-by 2025-02-10) and action_pack (2025-03-10), a redemption without "
  "`offer` takes the earlier activate-by (SP), with `offer: action_pack` the Action Pack; marketing with "
  "offer action_pack is rejected.")
A = "audit-offer-pick"; S1, S2 = "2024-01-10", "2024-02-10"
s.accept(s.verify(A, "2024-01-02"), s.qualify(A, "2024-01-05", "security", 80), s.buy(A, S1, SP), s.buy(A, S2, AP))
s.accept(s.redeem(A, "2024-03-01", "azure_credits"), s.redeem(A, "2024-03-02", "azure_credits", offer=AP),
         s.redeem(A, "2024-03-03", "support_and_advisory", offer=AP), s.redeem(A, "2024-03-04", "support_and_advisory"))
s.reject(["R16", "R17", "R23"], s.redeem(A, "2024-03-05", "marketing", offer=AP))
s.reject(["R16", "R17", "R23"], s.redeem(A, "2024-03-05", "azure_credits"), note="both terms' credits redeemed")
s.q(A, "2024-03-05", {"benefits": [ben_red(SP, S1, "azure_credits", "2024-03-01"), ben_red(AP, S2, "azure_credits", "2024-03-02"),
                                   ben_red(AP, S2, "support_and_advisory", "2024-03-03"), ben_red(SP, S1, "support_and_advisory", "2024-03-04"),
                                   ben(SP, S1, "marketing", "available")]})

# ---------------------------------------------------------------- 70 R26 void on absorbed after M
s = scenario("70-r26-absorbed-account-accepts-voids-after-merge",
  "R26/R28: from M the absorbed account accepts no new events but voids: a void on B dated after M is accepted and "
  "the absorbing account then shows B's benefit available again; B's state names its absorber only from M on.")
A, B = "audit-merge-a", "audit-merge-b"
r = s.redeem(B, "2024-03-01", "azure_credits")
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), s.verify(B, "2024-02-01"), s.buy(B, "2024-02-10", AP), r)
s.accept(s.merge(A, "2024-06-01", B))
s.reject("R26", s.redeem(B, "2024-06-02", "support_and_advisory"), note="after M")
s.accept(s.void(B, "2024-06-10", r, reason="wrong account"), note="void on B after M")
s.q(A, "2024-06-10", {"absorbed": ex([{"account": B, "date": "2024-06-01"}]),
    "benefits": [ben(AP, "2024-02-10", "azure_credits", "available", source=B, unlocked=None)]})
s.q(A, "2024-06-10", {"benefits": [ben_red(AP, "2024-02-10", "azure_credits", "2024-03-01", source=B)]}, known_at="2024-06-09T23:59:59Z")
s.q(A, "2024-05-31", {"absorbed": ex([]), "memberships": ex([mem(AP, "active", "2024-01-10", source=A)]),
    "benefits": {"$items": [], "$without": [{"source": B}]}})
s.q(B, "2024-06-01", {"merged_into": A})

# ---------------------------------------------------------------- 71 R26/R29 merge before B's later event
s = scenario("71-r26-merge-dated-before-absorbed-events",
  "R26/R29: a merge dated 2024-06-01 when B already has an event dated 2024-06-10 would make that event invalid "
  "(B accepts no events from M): rejected, naming it; dated 2024-06-11 the merge is accepted.")
A, B = "audit-merge-late-a", "audit-merge-late-b"
later = s.redeem(B, "2024-06-10", "azure_credits")
s.accept(s.verify(A, "2024-01-02"), s.verify(B, "2024-02-01"), s.buy(B, "2024-02-10", AP), later)
s.reject(["R26", "R29"], s.merge(A, "2024-06-01", B), stderr_any=[later["id"], "2024-06-10"])
s.accept(s.merge(A, "2024-06-11", B))
s.q(A, "2024-06-11", {"absorbed": ex([{"account": B, "date": "2024-06-11"}]),
    "memberships": ex([mem(AP, "active", "2024-02-10", source=B)]),
    "benefits": [ben_red(AP, "2024-02-10", "azure_credits", "2024-06-10", source=B)]})

# ---------------------------------------------------------------- 72 R27 legacy vs legacy
s = scenario("72-r27-two-legacy-terms-own-governs",
  "R27: with two legacy package terms A's own governs even though B's AD is later; B's silver shows merged and is not "
  "renewable; A renews gold in its own window (held gold on 2022-09-30, no designation).")
A, B = "audit-legacy-a", "audit-legacy-b"
s.accept(s.buy(A, "2022-01-10", GOLD), s.buy(B, "2022-03-01", SILVER))
s.accept(s.merge(A, "2022-06-01", B))
s.accept(s.verify(A, "2023-01-11"), s.renew(A, "2023-01-20", GOLD))
s.reject(["R8", "R14", "R27"], s.renew(A, "2023-03-05", SILVER), note="B's merged term's own window")
s.q(A, "2022-06-01", {"memberships": ex([mem(GOLD, "active", "2022-01-10", source=A), mem(SILVER, "merged", "2022-03-01", source=B)])})
s.q(A, "2023-01-20", {"memberships": {"$items": [mem(GOLD, "active", "2023-01-20", source=A), mem(SILVER, "merged", "2022-03-01", source=B)],
                                      "$without": [{"status": "in_renewal_window"}]}})

# ---------------------------------------------------------------- 73 R27 SP vs SP later AD
s = scenario("73-r27-two-solutions-partner-terms-later-ad-governs",
  "R27/R13: two solutions_partner terms: B's (AD 2025-03-01) governs over A's (AD 2025-01-10); A's shows merged; "
  "renewal in A's own window is rejected; in the governing window it needs a designation from 2024-10-01 and is "
  "accepted; designations of both accounts are listed.")
A, B = "audit-sp-a", "audit-sp-b"
s.accept(s.qualify(A, "2024-01-05", "security", 80), s.buy(A, "2024-01-10", SP),
         s.qualify(B, "2024-02-20", "modern_work", 90), s.buy(B, "2024-03-01", SP))
s.accept(s.merge(A, "2024-06-01", B))
s.accept(s.verify(A, "2025-01-12"), s.qualify(A, "2024-11-01" if False else "2025-01-12", "data_and_ai", 75))
s.reject(["R8", "R27"], s.renew(A, "2025-01-15", SP), note="A's own (merged) term's window")
s.accept(s.renew(A, "2025-03-05", SP), note="governing window 2025-03-02..2025-03-31")
s.q(A, "2024-06-01", {"memberships": ex([mem(SP, "merged", "2024-01-10", source=A), mem(SP, "active", "2024-03-01", source=B)]),
    "designations": ex([{"solution_area": "security", "source": A}, {"solution_area": "modern_work", "source": B}])})
s.q(A, "2025-03-05", {"memberships": {"$items": [mem(SP, "active", "2025-03-05", source=A), mem(SP, "merged", "2024-01-10", source=A)],
                                      "$without": [{"status": "in_renewal_window"}]}})

# ---------------------------------------------------------------- 74 R27 A's term expired, B's governs
s = scenario("74-r27-absorbed-running-term-governs-over-expired",
  "R27/R11: A's Action Pack lapsed before M, B's runs: B's governs (active, source B); a purchase on A's action-pack "
  "line is then rejected (R11); A renews in B's window.")
A, B = "audit-exp-a", "audit-exp-b"
s.accept(s.verify(A, "2021-12-20"), s.buy(A, "2022-01-05", AP), s.verify(B, "2023-12-20"), s.buy(B, "2024-01-10", AP))
s.accept(s.merge(A, "2024-04-01", B))
s.reject("R11", s.buy(A, "2024-05-01", AP), note="the governing term runs")
s.accept(s.verify(A, "2025-01-12"), s.renew(A, "2025-01-15", AP))
s.q(A, "2024-04-01", {"memberships": {"$items": [mem(AP, "active", "2024-01-10", source=B)], "$without": [{"status": "merged"}]}})
s.q(A, "2025-01-15", {"memberships": {"$items": [mem(AP, "active", "2025-01-15", source=A)],
                                      "$without": [{"status": "in_renewal_window"}, {"status": "merged"}]}})

# ---------------------------------------------------------------- 75 R28 void renewal
s = scenario("75-r28-void-of-a-renewal",
  "R28/R10: voiding the verification a renewal needs is rejected; voiding the renewal puts the old term back in its "
  "window (known-at before the void still shows the renewal); the partner renews again on another date.")
A = "audit-void-renewal"; S = "2023-01-10"
v = s.verify(A, "2024-01-15"); rn = s.renew(A, "2024-01-20", AP)
s.accept(s.verify(A, "2023-01-01"), s.buy(A, S, AP), v, rn)
s.reject(["R28", "R10"], s.void(A, "2024-01-21", v), note="the renewal needs it")
s.accept(s.void(A, "2024-01-25", rn, rec="2024-01-25T12:00:00Z"))
s.accept(s.renew(A, "2024-02-01", AP))
s.q(A, "2024-01-22", {"memberships": ex([mem(AP, "active", "2024-01-20")])}, known_at="2024-01-25T11:59:59Z")
s.q(A, "2024-01-22", {"memberships": ex([mem(AP, "in_renewal_window", S)])})
s.q(A, "2024-02-01", {"memberships": ex([mem(AP, "active", "2024-02-01") | {"anniversary": "2025-02-01"}]),
    "benefits": {"$items": [ben(AP, "2024-02-01", "azure_credits", "available")], "$without": [{"term_start": "2024-01-20"}]}})

# ---------------------------------------------------------------- 76 R28 void designation / void order
s = scenario("76-r28-void-designation-and-void-before-its-target",
  "R28/R13: voiding the only designation a solutions_partner purchase needs is rejected; voiding a spare one is "
  "accepted and it leaves the designations; a void that names an event recorded after it (later line of the same "
  "file) is rejected.")
A = "audit-void-desig"
q1 = s.qualify(A, "2024-01-05", "security", 80); q2 = s.qualify(A, "2024-03-01", "modern_work", 85)
s.accept(q1, s.buy(A, "2024-01-10", SP), q2)
s.reject(["R28", "R13"], s.void(A, "2024-03-05", q1))
s.accept(s.void(A, "2024-03-05", q2))
later = s.redeem(A, "2024-03-07", "azure_credits")
vv = s.void(A, "2024-03-06", later)
s.step([vv, later], expect="rejected", rule="R28", line=1, note="void recorded before its target")
s.q(A, "2024-03-07", {"designations": ex([{"solution_area": "security", "qualified": "2024-01-05", "score": 80, "source": A}]),
    "memberships": ex([mem(SP, "active", "2024-01-10")]),
    "benefits": [ben(SP, "2024-01-10", "azure_credits", "available")]})

# ---------------------------------------------------------------- 77 R29 back-dated redemption
s = scenario("77-r29-back-dated-redemptions",
  "R29/R23: a back-dated redemption that takes the only azure_credits of a term would make the recorded later one "
  "invalid: rejected naming it. With two terms (after a renewal) the back-dated one takes the old term and the "
  "recorded one moves to the new term: accepted.")
A, B = "audit-bd-one", "audit-bd-two"
la = s.redeem(A, "2024-03-01", "azure_credits")
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), la)
s.reject(["R29", "R17", "R23"], s.redeem(A, "2024-02-01", "azure_credits"), stderr_any=[la["id"]])
S1, S2 = "2023-03-01", "2024-03-10"
s.accept(s.verify(B, "2023-02-20"), s.buy(B, S1, AP), s.verify(B, "2024-03-05"), s.renew(B, S2, AP),
         s.redeem(B, "2024-03-20", "azure_credits"))
s.accept(s.redeem(B, "2024-03-15", "azure_credits"), note="back-dated")
s.q(B, "2024-03-20", {"benefits": [ben_red(AP, S1, "azure_credits", "2024-03-15"), ben_red(AP, S2, "azure_credits", "2024-03-20")]})
s.q(A, "2024-03-01", {"benefits": [ben_red(AP, "2024-01-10", "azure_credits", "2024-03-01")]})

# ---------------------------------------------------------------- 78 R29 back-dated designation breaks legacy renewal
s = scenario("78-r29-back-dated-designation-breaks-legacy-renewal",
  "R29/R14: a gold renewal after retirement (2023-01-15, R13 window from 2022-08-01) is recorded; a back-dated "
  "designation dated 2022-09-01 would make it invalid (qualified partners renew solutions_partner): rejected naming "
  "the renewal; one dated 2022-07-31 (before the window) is accepted.")
A = "audit-bd-legacy"
rn = s.renew(A, "2023-01-15", GOLD)
s.accept(s.buy(A, "2022-01-10", GOLD), s.verify(A, "2022-12-20"), rn)
s.reject(["R29", "R14"], s.qualify(A, "2022-09-01", "modern_work", 80), stderr_any=[rn["id"]])
s.accept(s.qualify(A, "2022-07-31", "modern_work", 80))
s.q(A, "2023-01-15", {"memberships": ex([mem(GOLD, "active", "2023-01-15")]),
    "designations": ex([{"solution_area": "modern_work", "qualified": "2022-07-31"}])})

# ---------------------------------------------------------------- 79 R29 back-dated 4th subscription
s = scenario("79-r29-back-dated-fourth-subscription",
  "R29/R22: three professional subscriptions assigned 2024-02-01..03; a back-dated fourth (2024-01-20) would make the "
  "2024-02-03 one the fourth of the term: rejected naming it.")
A = "audit-bd-vs"
third = s.assign(A, "2024-02-03", "VS-BV-3", "c@bv.example")
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), s.assign(A, "2024-02-01", "VS-BV-1", "a@bv.example"),
         s.assign(A, "2024-02-02", "VS-BV-2", "b@bv.example"), third)
s.reject(["R29", "R22", "R30"], s.assign(A, "2024-01-20", "VS-BV-0", "z@bv.example"), stderr_any=[third["id"], "VS-BV-3"])
s.q(A, "2024-02-03", {"vs_subscriptions": ex([{"subscription": "VS-BV-%d" % k} for k in (1, 2, 3)]),
    "benefits": [ben(AP, "2024-01-10", "developer_tools", "redeemed", unlocked="2024-02-01", expires="2025-02-01")]})

# ---------------------------------------------------------------- 80 contract error lines
s = scenario("80-contract-every-rejected-event-gets-its-line",
  "Contract: each rejected event gets a line `error: event N (type, account, date): Rn: ...`; after a rejected event "
  "the rest is checked as if it were absent (the marketing redemption fails because the SP purchase on line 2 was "
  "rejected); line 3 alone is valid; nothing is written.")
A = "audit-errfmt"
s.accept(s.verify(A, "2024-01-20"))
evs = [s.verify(A, "2024-01-25"), s.buy(A, "2024-02-01", SP), s.buy(A, "2024-02-01", AP), s.redeem(A, "2024-02-05", "marketing")]
rejected_lines(s, evs, [(2, "R13", ["error: event 2 (membership_purchased, audit-errfmt, 2024-02-01): R13"]),
                        (4, "any", ["error: event 4 (benefit_redeemed, audit-errfmt, 2024-02-05): R"])], "SP purchase and marketing")
s.q(A, "2024-02-05", {"memberships": ex([]), "profile_verified": "2024-01-20"})

s = scenario("81-contract-malformed-and-rule-lines-together",
  "Contract: a malformed line (bad JSON) and a rule violation in the same input are both reported, the malformed "
  "one as `line N`, the other as `event N (...)`; nothing is written.")
A = "audit-errmix"
s.accept(s.verify(A, "2024-01-20"), s.buy(A, "2024-02-01", AP))
good = s.stamp(s.redeem(A, "2024-02-02", "azure_credits"))
bad_rule = s.stamp(s.buy(A, "2024-02-03", AP))
raw = ['{"account": "audit-errmix", "type": "business_profile_verified", "date": "2024-02-02"', json.dumps(good), json.dumps(bad_rule)]
s.step(None, raw=raw, expect="rejected", rule=None, line=1, note="malformed line 1")
s.step(None, raw=raw, expect="rejected", rule="R11", line=3, stderr_any=["error: event 3 (membership_purchased, audit-errmix, 2024-02-03): R11"], note="rule line 3")
s.q(A, "2024-02-03", {"benefits": [ben(AP, "2024-02-01", "azure_credits", "available")]})
s.commands.append({"args": ["verify"], "exit": 0})

# ---------------------------------------------------------------- 82 exit codes
s = scenario("82-contract-exit-codes",
  "Contract: exit 0 success, 2 usage errors (missing argument, unknown command, unknown option).")
A = "audit-exit"
s.accept(s.verify(A, "2024-01-20"))
s.commands += [{"args": ["verify"], "exit": 0}, {"args": ["state", A], "exit": 2}, {"args": ["frobnicate"], "exit": 2},
               {"args": ["state", A, "--as-of", "2024-01-20", "--frob"], "exit": 2},
               {"args": ["state", A, "--as-of", "2024-01-20", "--json"], "exit": 0}]

# ---------------------------------------------------------------- 83 account names
s = scenario("83-contract-account-name-boundaries",
  "Contract: account is 1-64 characters of A-Z a-z 0-9 . _ -: 64 characters and one character accepted; empty, "
  "a slash or a non-ASCII letter rejected.")
L64 = "a" * 60 + "._-Z"
s.accept(s.verify(L64, "2024-01-20"), s.verify("x", "2024-01-20"), s.verify("A.b_c-9", "2024-01-20"))
for nm, note in (("", "empty"), ("a/b", "slash"), ("caf\u00e9", "non-ASCII")):
    s.step([s.verify(nm, "2024-01-21")], expect="rejected", rule=None, line=1, note=note)
s.q(L64, "2024-01-20", {"account": L64, "profile_verified": "2024-01-20"})
s.q("A.b_c-9", "2024-01-20", {"profile_verified": "2024-01-20"})

# ---------------------------------------------------------------- 84 benefit enum
s = scenario("84-contract-benefit-redeemed-enum",
  "Contract/R16: benefit_redeemed takes azure_credits, developer_tools, support_and_advisory or marketing; "
  "cloud_services (token activation) and on_premises_software (key issue) are rejected.")
A = "audit-enum"
s.accept(s.verify(A, "2024-01-20"), s.buy(A, "2024-02-01", AP))
s.step([s.redeem(A, "2024-02-02", "cloud_services")], expect="rejected", line=1, note="cloud_services")
s.step([s.redeem(A, "2024-02-02", "on_premises_software")], expect="rejected", line=1, note="on_premises_software")
s.q(A, "2024-02-02", {"benefits": [ben(AP, "2024-02-01", "cloud_services", "available"), ben(AP, "2024-02-01", "on_premises_software", "available")]})

# ---------------------------------------------------------------- 85 R28 void hides regardless of business date
s = scenario("85-r28-void-hides-at-every-as-of",
  "R28: once the void is recorded the voided event is ignored at every as_of, also as_of dates before the void's "
  "business date; known-at before the void still shows it.")
A = "audit-void-asof"
r = s.redeem(A, "2024-03-01", "azure_credits")
s.accept(s.verify(A, "2024-01-20"), s.buy(A, "2024-02-01", AP), r)
s.accept(s.void(A, "2024-06-01", r, rec="2024-06-01T09:00:00Z"))
s.q(A, "2024-04-01", {"benefits": [ben(AP, "2024-02-01", "azure_credits", "available", unlocked=None, expires=None)]})
s.q(A, "2024-04-01", {"benefits": [ben_red(AP, "2024-02-01", "azure_credits", "2024-03-01")]}, known_at="2024-05-31T00:00:00Z")

# ---------------------------------------------------------------- 86 R8 renewal line
s = scenario("86-r08-renewal-offer-must-be-on-the-line",
  "R8/R12: an Action Pack in its window can be renewed as learning_action_pack (same line) but not as "
  "solutions_partner (no package term to renew).")
A = "audit-renew-line"
s.accept(s.verify(A, "2023-01-02"), s.buy(A, "2023-01-10", AP), s.verify(A, "2024-01-12"), s.qualify(A, "2024-01-05", "security", 80))
s.reject(["R8", "R9", "R12"], s.renew(A, "2024-01-15", SP), note="no package term")
s.accept(s.renew(A, "2024-01-16", LAPS))
s.q(A, "2024-01-16", {"memberships": ex([mem(LAPS, "active", "2024-01-16")]), "obligations": ex([obl("2024-01-16", AP)])})

# ---------------------------------------------------------------- 87 R5/R6 state on dates
s = scenario("87-r06-profile-verified-latest-on-as-of",
  "Contract: profile_verified is the latest verification on or before as_of; memberships before the first purchase "
  "are empty; benefits list every term started on or before as_of.")
A = "audit-profile"
s.accept(s.verify(A, "2023-01-05"), s.buy(A, "2023-01-10", AP), s.verify(A, "2024-01-05"), s.renew(A, "2024-01-20", AP),
         s.verify(A, "2024-03-01"))
s.q(A, "2023-01-09", {"profile_verified": "2023-01-05", "memberships": ex([]), "benefits": ex([])})
s.q(A, "2024-02-10", {"profile_verified": "2024-01-05", "memberships": ex([mem(AP, "active", "2024-01-20")]),
    "benefits": {"$items": [ben(AP, "2023-01-10", "azure_credits", "available", activate_by="2024-02-10"), ben(AP, "2024-01-20", "azure_credits", "available")]}})
s.q(A, "2024-02-11", {"benefits": {"$items": [ben(AP, "2023-01-10", "azure_credits", "forfeited"), ben(AP, "2024-01-20", "azure_credits", "available")]}})
s.q(A, "2024-03-01", {"profile_verified": "2024-03-01"})
s.q(A, "2024-01-19", {"benefits": {"$items": [ben(AP, "2023-01-10", "azure_credits", "available")], "$without": [{"term_start": "2024-01-20"}]}})


# ---------------------------------------------------------------- 88 R29 across a merge
s = scenario("88-r29-back-dated-absorbed-purchase-changes-governing-term",
  "R29/R27/R26: B (absorbed 2024-06-01 with no term) gets a back-dated Action Pack purchase dated 2024-03-01 "
  "(before M, so allowed): its later AD would make it govern, which would make A's recorded renewal in A's own "
  "window invalid: rejected naming A's renewal. For another pair with no renewal recorded yet, the same back-dated "
  "purchase is accepted and B's term governs (A's shows merged).")
A, B, C, D = "audit-gov-a", "audit-gov-b", "audit-gov-c", "audit-gov-d"
rn = s.renew(A, "2025-01-15", AP)
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), s.verify(B, "2023-12-01"),
         s.verify(C, "2024-01-02"), s.buy(C, "2024-01-10", AP), s.verify(D, "2023-12-01"))
s.accept(s.merge(A, "2024-06-01", B), s.merge(C, "2024-06-01", D))
s.accept(s.verify(A, "2025-01-12"), rn)
s.reject(["R29", "R27", "R8"], s.buy(B, "2024-03-01", AP), note="back-dated before M", stderr_any=[rn["id"]])
s.accept(s.buy(D, "2024-03-01", AP), note="back-dated before M; nothing depends on C's own window")
s.q(A, "2025-01-15", {"memberships": {"$items": [mem(AP, "active", "2025-01-15", source=A)], "$without": [{"source": B}]}})
s.q(C, "2024-06-01", {"memberships": ex([mem(AP, "merged", "2024-01-10", source=C), mem(AP, "active", "2024-03-01", source=D)])})
s.q(C, "2024-05-31", {"memberships": ex([mem(AP, "active", "2024-01-10", source=C)]), "absorbed": ex([])})

# ---------------------------------------------------------------- 89 known-at before the merge
s = scenario("89-r26-known-at-before-the-merge-was-recorded",
  "R26/contract --known-at: before the merge was recorded the absorbing account shows nothing of B and B names no "
  "absorber; after, it does; a known-at with a +02:00 offset is the same instant.")
A, B = "audit-kmerge-a", "audit-kmerge-b"
s.accept(s.verify(A, "2024-01-02", rec="2024-01-02T09:00:00Z"), s.buy(A, "2024-01-10", AP, rec="2024-01-10T09:00:00Z"),
         s.verify(B, "2024-02-01", rec="2024-02-01T09:00:00Z"), s.buy(B, "2024-02-10", LAPS, rec="2024-02-10T09:00:00Z"))
s.accept(s.merge(A, "2024-05-01", B, rec="2024-05-03T12:00:00Z"), note="recorded two days after its business date")
s.q(A, "2024-05-10", {"absorbed": ex([]), "memberships": ex([mem(AP, "active", "2024-01-10", source=A)])}, known_at="2024-05-03T11:59:59Z")
s.q(A, "2024-05-10", {"absorbed": ex([{"account": B, "date": "2024-05-01"}]),
    "memberships": ex([mem(AP, "merged", "2024-01-10", source=A), {"offer": LAPS, "status": "active", "source": B}])},
    known_at="2024-05-03T14:00:00+02:00")
s.q(B, "2024-05-10", {"merged_into": None}, known_at="2024-05-03T11:59:59Z")
s.q(B, "2024-05-10", {"merged_into": A})

# ---------------------------------------------------------------- 90 void on absorber of B's event
s = scenario("90-r28-void-must-be-on-the-events-account",
  "R28: after a merge, B's event must be voided on B, not on the absorbing account A.")
A, B = "audit-vacct-a", "audit-vacct-b"
r = s.redeem(B, "2024-03-01", "azure_credits")
s.accept(s.verify(A, "2024-01-02"), s.verify(B, "2024-02-01"), s.buy(B, "2024-02-10", AP), r, s.merge(A, "2024-06-01", B))
s.reject("R28", s.void(A, "2024-06-05", r), note="void on A")
s.accept(s.void(B, "2024-06-05", r), note="void on B")
s.q(A, "2024-06-05", {"benefits": [ben(AP, "2024-02-10", "azure_credits", "available", source=B)]})

# ---------------------------------------------------------------- 91 other commands
s = scenario("91-contract-commands-exit-zero",
  "Contract: the query commands succeed (exit 0) on a small ledger.")
A = "audit-cmds"
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), s.redeem(A, "2024-02-01", "azure_credits"))
s.commands += [{"args": a, "exit": 0} for a in (
    ["history", A], ["history", A, "--from", "2024-01-05", "--to", "2024-01-31"], ["diff", A, "--from", "2024-01-01", "--to", "2024-03-01"],
    ["upcoming", "--as-of", "2024-12-01", "--within", "90"], ["report", "--as-of", "2024-03-01"],
    ["report", "--as-of", "2024-03-01", "--format", "csv"], ["report", "--as-of", "2024-03-01", "--format", "json"],
    ["log"], ["log", "--from-seq", "2"], ["verify"], ["state", A, "--as-of", "2024-03-01"], ["history", A, "--json"],
    ["upcoming", "--as-of", "2024-12-01", "--json"])]

# ---------------------------------------------------------------- 92 R13 areas added mid-term / qualification on purchase date after purchase
s = scenario("92-r13-qualification-same-day-after-purchase",
  "R13/R2: a designation qualified on the purchase date but recorded after the purchase does not count for it "
  "(same-date events apply in recording order): the purchase is rejected; recorded before it, accepted.")
A = "audit-q-order"
s.reject("R13", s.buy(A, "2024-04-10", SP, rec="2024-04-10T09:00:00Z"), s.qualify(A, "2024-04-10", "security", 80, rec="2024-04-10T09:01:00Z"), line=1)
s.accept(s.qualify(A, "2024-04-10", "security", 80, rec="2024-04-10T09:02:00Z"), s.buy(A, "2024-04-10", SP, rec="2024-04-10T09:03:00Z"))
s.q(A, "2024-04-10", {"memberships": ex([mem(SP, "active", "2024-04-10")])})

# ---------------------------------------------------------------- 93 R20 replacement after the term lapsed / activation under original term
s = scenario("93-r20-replacement-activated-under-original-activate-by",
  "R20/R19: a replacement issued inside the 30 days is activated under the original term's activate-by even after "
  "a renewal: accepted on that date, the replacement of another token rejected a day later.")
A = "audit-repl-renew"; S1, S2 = "2023-03-01", "2024-03-10"
s.accept(s.verify(A, "2023-02-20"), s.buy(A, S1, AP), s.token(A, "2024-03-01", "T-RR-1", 5), s.token(A, "2024-03-01", "T-RR-2", 5),
         s.activate_token(A, "2024-03-05", "T-RR-1", "bad.onmicrosoft.com", 5), s.activate_token(A, "2024-03-05", "T-RR-2", "bad.onmicrosoft.com", 5),
         s.verify(A, "2024-03-06"), s.renew(A, S2, AP),
         s.replace(A, "2024-03-20", "T-RR-1", "R-RR-1"), s.replace(A, "2024-03-20", "T-RR-2", "R-RR-2"))
s.accept(s.activate_token(A, "2024-04-01", "R-RR-1", "rr.onmicrosoft.com", 5), note="original term's activate-by")
s.reject(["R19", "R20"], s.activate_token(A, "2024-04-02", "R-RR-2", "rr.onmicrosoft.com", 5), note="a day late")
s.q(A, "2024-04-02", {"tokens": [{"token": "R-RR-1", "status": "activated", "expires": "2025-04-01"},
                                 {"token": "R-RR-2", "status": "forfeited"}, {"token": "T-RR-2", "status": "replaced"}]})

# ---------------------------------------------------------------- 94 stored form
def canon(o): return json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
s = scenario("94-contract-stored-form-lines",
  "Contract: append takes stored-form lines; seq, version, prev_hash and hash must equal what the ledger assigns "
  "(computed here per the contract: SHA-256 of prev_hash + RFC 8785 JSON of the stored event): a correct line is "
  "accepted, a wrong hash or seq rejected.")
A = "audit-stored"
e1 = s.stamp(s.verify(A, "2024-01-02", rec="2024-01-02T09:00:00Z"))
s.step(None, raw=[json.dumps(e1)], added=1)
st1 = {"account": A, "data": {}, "date": "2024-01-02", "id": e1["id"], "recorded_at": "2024-01-02T09:00:00.000000Z", "seq": 1,
       "type": "business_profile_verified", "version": 1}
h1 = hashlib.sha256(("0" * 64 + canon(st1)).encode()).hexdigest()
e2 = s.buy(A, "2024-01-10", AP, rec="2024-01-10T09:00:00Z")
st2 = {"account": A, "data": {"offer": AP}, "date": "2024-01-10", "id": e2["id"], "recorded_at": "2024-01-10T09:00:00.000000Z",
       "seq": 2, "type": "membership_purchased", "version": 2}
h2 = hashlib.sha256((h1 + canon(st2)).encode()).hexdigest()
bad_hash = dict(st2, prev_hash=h1, hash="0" * 64)
bad_seq = dict(st2, seq=3, prev_hash=h1)
bad_seq["hash"] = hashlib.sha256((h1 + canon({k: v for k, v in bad_seq.items() if k != "prev_hash"})).encode()).hexdigest()
s.step(None, raw=[json.dumps(bad_hash)], expect="rejected", rule=None, line=1, note="wrong hash")
s.step(None, raw=[json.dumps(bad_seq)], expect="rejected", rule=None, line=1, note="wrong seq")
s.step(None, raw=[json.dumps(dict(st2, prev_hash=h1, hash=h2))], added=1, note="exact stored form")
s.q(A, "2024-01-10", {"memberships": ex([mem(AP, "active", "2024-01-10")])})
s.commands.append({"args": ["verify"], "exit": 0})

# ---------------------------------------------------------------- 95 idempotent with stale expected_version
s = scenario("95-contract-idempotent-ignores-expected-version",
  "Contract: idempotency compares account, type, date, data and recorded_at, not expected_version: re-appending the "
  "same events with their (now stale) expected_version is a no-op.")
A = "audit-idem-ev"
evs = [s.verify(A, "2024-01-02", rec="2024-01-02T09:00:00Z", expected_version=0), s.buy(A, "2024-01-10", AP, rec="2024-01-10T09:00:00Z", expected_version=1)]
lines = [json.dumps(s.stamp(e)) for e in evs]
s.step(None, raw=lines, added=2)
s.step(None, raw=lines, added=0, unchanged=True, note="same lines again")
s.q(A, "2024-01-10", {"memberships": ex([mem(AP, "active", "2024-01-10")])})

# ---------------------------------------------------------------- 96 void of a replacement
s = scenario("96-r28-void-of-a-replacement-allows-another",
  "R28/R20: voiding an unactivated replacement makes the original `activated` again with its replacement deadline, "
  "and a new replacement within the 30 days is accepted (the voided one is ignored).")
A = "audit-void-repl"
rp = s.replace(A, "2024-02-15", "T-VR-1", "R-VR-1")
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), s.token(A, "2024-02-01", "T-VR-1", 5),
         s.activate_token(A, "2024-02-10", "T-VR-1", "bad.onmicrosoft.com", 5), rp)
s.accept(s.void(A, "2024-02-16", rp))
s.q(A, "2024-02-16", {"tokens": ex([{"token": "T-VR-1", "status": "activated", "replaced_by": None, "replacement_deadline": "2024-03-11"}])})
s.accept(s.replace(A, "2024-02-20", "T-VR-1", "R-VR-2", reason="seats_added_instead_of_extending"))
s.q(A, "2024-02-20", {"tokens": ex([{"token": "T-VR-1", "status": "replaced", "replaced_by": "R-VR-2"},
                                    {"token": "R-VR-2", "status": "issued", "replaces": "T-VR-1", "seats": 5}])})

# ---------------------------------------------------------------- 97 void of the verification a first purchase needs
s = scenario("97-r28-void-of-first-purchase-verification",
  "R28/R10: voiding the only verification before the first Action Pack purchase is rejected; a later spare "
  "verification can be voided and profile_verified falls back.")
A = "audit-void-verify"
v1 = s.verify(A, "2024-01-02"); v2 = s.verify(A, "2024-03-01")
s.accept(v1, s.buy(A, "2024-01-10", AP), v2)
s.reject(["R28", "R10"], s.void(A, "2024-03-05", v1))
s.accept(s.void(A, "2024-03-05", v2))
s.q(A, "2024-03-05", {"profile_verified": "2024-01-02"})

# ---------------------------------------------------------------- 98 mid-file rejections
s = scenario("98-contract-several-rejections-in-one-file",
  "Contract/R29: in one file a second azure_credits redemption (line 3) and a back-dated one that would break the "
  "accepted line 2 (line 5) are both rejected, each with its own line; lines 1, 2 and 4 are fine; nothing written.")
A = "audit-multi"
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP))
l2 = s.redeem(A, "2024-02-01", "azure_credits")
evs = [s.redeem(A, "2024-01-20", "support_and_advisory"), l2, s.redeem(A, "2024-02-02", "azure_credits"),
       s.redeem(A, "2024-02-03", "developer_tools"), s.redeem(A, "2024-01-25", "azure_credits")]
rejected_lines(s, evs, [(3, "any", ["error: event 3 (benefit_redeemed, audit-multi, 2024-02-02): R"]),
                (5, ["R29"], ["error: event 5 (benefit_redeemed, audit-multi, 2024-01-25): R29"])], "two rejections")
s.q(A, "2024-02-03", {"benefits": [ben(AP, "2024-01-10", t, "available") for t in ("azure_credits", "support_and_advisory", "developer_tools")]})

# ---------------------------------------------------------------- 99 void and re-redeem in one file
s = scenario("99-r28-void-and-redeem-again-in-one-file",
  "R28/R17: a void and a new redemption of the same benefit in the same file are accepted (the new one is checked "
  "with the voided event already ignored); a third redemption afterwards is rejected (already redeemed).")
A = "audit-void-same-file"
r1 = s.redeem(A, "2024-03-01", "azure_credits")
s.accept(s.verify(A, "2024-01-02"), s.buy(A, "2024-01-10", AP), r1)
s.accept(s.void(A, "2024-03-10", r1), s.redeem(A, "2024-03-15", "azure_credits"))
s.reject(["R17", "R23"], s.redeem(A, "2024-03-20", "azure_credits"), note="already redeemed 2024-03-15")
s.q(A, "2024-03-20", {"benefits": [ben_red(AP, "2024-01-10", "azure_credits", "2024-03-15")]})
s.q(A, "2024-03-20", {"benefits": [ben_red(AP, "2024-01-10", "azure_credits", "2024-03-01")]}, known_at="2024-03-09T23:59:59Z")

if __name__ == "__main__":
    for x in ALL:
        x.write(ROOT)
    print("wrote", len(ALL))
