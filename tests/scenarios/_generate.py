#!/usr/bin/env python3
"""Writes tests/scenarios/NN-*/ (acceptance format). Run from anywhere: python3 _generate.py

Every expected value is worked out from ../shared/spec/rules.md (the helpers in _lib.py only do
the R1 calendar arithmetic). Ids are UUIDv4-shaped, seeded by the scenario name, so re-running
gives byte-identical files.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _lib import *  # noqa

ROOT = os.path.dirname(os.path.abspath(__file__))
ALL = []


def scenario(name, why):
    s = Scenario(name, why)
    ALL.append(s)
    return s


AP, LAPS, SP, GOLD, SILVER = "action_pack", "learning_action_pack", "solutions_partner", "legacy_gold", "legacy_silver"
UNINSTALL = "uninstall_on_premises_software"

# ---------------------------------------------------------------- R1
s = scenario("01-r01-leap-day-and-month-end-clamping",
             "R1: +12/+13 months clamp to the month end: 2024-02-29 -> AD 2025-02-28, activate-by 2025-03-29; "
             "2024-01-31 -> AD 2025-01-31, activate-by 2025-02-28; a benefit unlocked 2024-02-29 expires 2025-02-28.")
A, B = "fourth-coffee-leap", "fourth-coffee-jan31"
s.accept(s.verify(A, "2024-02-20"), s.buy(A, "2024-02-29", AP), s.redeem(A, "2024-02-29", "azure_credits"),
         s.verify(B, "2024-01-20"), s.buy(B, "2024-01-31", AP))
s.q(A, "2025-02-28", {"memberships": ex([mem(AP, "active", "2024-02-29", dates=False) | {
    "anniversary": "2025-02-28", "renewal_window": {"opens": "2025-03-01", "closes": "2025-03-30"}, "activate_by": "2025-03-29"}]),
    "benefits": [ben(AP, "2024-02-29", "azure_credits", "redeemed", unlocked="2024-02-29", expires="2025-02-28"),
                 ben(AP, "2024-02-29", "support_and_advisory", "available", activate_by="2025-03-29")]}, note="AD")
s.q(A, "2025-03-01", {"memberships": [mem(AP, "in_renewal_window", "2024-02-29")],
                      "benefits": [ben(AP, "2024-02-29", "azure_credits", "expired", unlocked="2024-02-29", expires="2025-02-28")]},
    note="AD+1; benefit expired the day after 2025-02-28")
s.q(A, "2025-03-30", {"memberships": [mem(AP, "in_renewal_window", "2024-02-29")]}, note="AD+30")
s.q(A, "2025-03-31", {"memberships": [mem(AP, "expired", "2024-02-29")]}, note="AD+31")
s.q(B, "2025-01-31", {"memberships": ex([mem(AP, "active", "2024-01-31") | {
    "anniversary": "2025-01-31", "renewal_window": {"opens": "2025-02-01", "closes": "2025-03-02"}, "activate_by": "2025-02-28"}])})
s.q(B, "2025-03-02", {"memberships": [mem(AP, "in_renewal_window", "2024-01-31")]})
s.q(B, "2025-03-03", {"memberships": [mem(AP, "expired", "2024-01-31")]})

s = scenario("02-r01-anniversary-by-months-not-365-days",
             "R1 forbids 365-day arithmetic: 2023-03-01 + 12 months = 2024-03-01 (365 days would give 2024-02-29). "
             "A renewal on 2024-03-01 is on the AD (rejected, window not open); 2024-03-31 is AD+30 (accepted). "
             "An impossible calendar date (2023-02-29) is malformed input.")
A = "adatum-calendar"
s.accept(s.verify(A, "2023-02-20"), s.buy(A, "2023-03-01", AP), s.verify(A, "2024-02-15"))
s.reject(["R1", "R7", "R8"], s.renew(A, "2024-03-01", AP), note="AD by calendar months; 365 days would make it AD+1")
s.reject(["R1", "R7", "R8"], s.renew(A, "2024-02-29", AP), note="365 days after the start, still before the AD")
s.reject(None, s.verify(A, "2023-02-29"), note="2023-02-29 does not exist (malformed date)")
s.accept(s.renew(A, "2024-03-31", AP), note="AD+30 by months (it would be AD+31 with 365 days)")
s.q(A, "2024-03-01", {"memberships": [mem(AP, "active", "2023-03-01") | {"anniversary": "2024-03-01"}]})
s.q(A, "2024-03-30", {"memberships": [mem(AP, "in_renewal_window", "2023-03-01") | {
    "renewal_window": {"opens": "2024-03-02", "closes": "2024-03-31"}, "activate_by": "2024-04-01"}]})
s.q(A, "2024-03-31", {"memberships": ex([mem(AP, "active", "2024-03-31") | {"anniversary": "2025-03-31"}])})

# ---------------------------------------------------------------- R2
s = scenario("03-r02-same-day-order-and-back-dated-fold",
             "R2: events of one date apply in recording order: a verification recorded after a same-day purchase "
             "does not count for it (R10); a back-dated verification is folded in at its date; a back-dated "
             "redemption shows at its business date, and --known-at before its recording does not show it.")
A, B = "tailspin-sameday", "tailspin-sameday-late"
s.accept(s.verify(A, "2024-05-06", rec="2024-05-06T09:00:00Z"), s.buy(A, "2024-05-06", AP, rec="2024-05-06T09:05:00Z"),
         note="verification recorded first")
s.reject(["R2", "R10"], s.buy(B, "2024-05-06", AP, rec="2024-05-06T10:00:00Z"),
         s.verify(B, "2024-05-06", rec="2024-05-06T10:01:00Z"), line=1, note="purchase recorded before the same-day verification")
s.accept(s.verify(B, "2024-05-01", rec="2024-05-07T08:00:00Z"), note="back-dated verification")
s.accept(s.buy(B, "2024-05-06", AP, rec="2024-05-07T08:01:00Z"))
s.accept(s.redeem(B, "2024-05-10", "azure_credits", rec="2024-06-01T12:00:00Z"), note="recorded three weeks late")
s.q(A, "2024-05-06", {"profile_verified": "2024-05-06", "memberships": [mem(AP, "active", "2024-05-06")]})
s.q(B, "2024-05-20", {"profile_verified": "2024-05-01", "memberships": [mem(AP, "active", "2024-05-06")],
                      "benefits": [ben_red(AP, "2024-05-06", "azure_credits", "2024-05-10")]})
s.q(B, "2024-05-09", {"benefits": [ben(AP, "2024-05-06", "azure_credits", "available")]}, note="before its business date")
s.q(B, "2024-05-20", {"benefits": [ben(AP, "2024-05-06", "azure_credits", "available", unlocked=None)]},
    known_at="2024-05-31T23:59:59Z", note="before it was recorded")

# ---------------------------------------------------------------- R3
s = scenario("04-r03-offers-and-unknown-offer",
             "R3: the five offers exist (solutions_partner and learning_action_pack bought here, both lines at once); "
             "an offer that is not one of them is rejected.")
A, B = "litware-offers", "litware-offers-typo"
s.accept(s.verify(A, "2024-01-05"), s.qualify(A, "2024-01-08", "modern_work", 80), s.buy(A, "2024-01-10", SP),
         s.buy(A, "2024-01-10", LAPS), s.verify(B, "2024-01-05"))
s.step([s.buy(B, "2024-01-12", "microsoft_action_pack")], expect="rejected", line=1,
       note="no such offer (cited as R3 or as malformed input)")
s.step([s.buy(B, "2024-01-12", "gold")], expect="rejected", line=1, note="no such offer; the legacy offer is legacy_gold")
s.q(A, "2024-01-10", {"memberships": ex([mem(SP, "active", "2024-01-10"), mem(LAPS, "active", "2024-01-10")]),
                      "designations": [{"solution_area": "modern_work", "qualified": "2024-01-08", "score": 80, "source": A}]})
s.q(B, "2024-01-12", {"memberships": ex([])})

# ---------------------------------------------------------------- R4
s = scenario("05-r04-two-independent-lines",
             "R4: a designation (package line) and an Action Pack (action-pack line) are held together; "
             "a second term on the action-pack line (LAPS while an Action Pack is active) is rejected.")
A = "woodgrove-lines"
s.accept(s.verify(A, "2024-02-20"), s.qualify(A, "2024-02-25", "security", 88), s.buy(A, "2024-03-01", SP),
         s.buy(A, "2024-04-01", AP))
s.reject(["R4", "R11", "R12"], s.buy(A, "2024-05-01", LAPS), note="action-pack line already holds an active term")
s.q(A, "2024-05-01", {"memberships": ex([mem(SP, "active", "2024-03-01"), mem(AP, "active", "2024-04-01")])})
s.q(A, "2024-03-15", {"memberships": ex([mem(SP, "active", "2024-03-01")])})

# ---------------------------------------------------------------- R5
s = scenario("06-r05-start-date-and-benefits-provided",
             "R5: a purchase on S starts the term on S and provides its benefits on S (one entry per type of the "
             "offer); nothing exists the day before; a redemption dated before S (back-dated) is rejected.")
A = "proseware-start"
s.accept(s.verify(A, "2024-06-01"), s.buy(A, "2024-06-10", AP))
s.reject(["R5", "R17", "R23"], s.redeem(A, "2024-06-09", "azure_credits"), note="the day before the start, recorded later")
s.accept(s.redeem(A, "2024-06-10", "support_and_advisory"), note="on the start date")
s.q(A, "2024-06-09", {"memberships": ex([]), "benefits": ex([])})
s.q(A, "2024-06-10", {"memberships": ex([mem(AP, "active", "2024-06-10")]), "benefits": ex([
    ben_avail(AP, "2024-06-10", "azure_credits"),
    ben(AP, "2024-06-10", "cloud_services", "available", provided="2024-06-10", activate_by="2025-07-10", unlocked=None, expires=None),
    ben_avail(AP, "2024-06-10", "developer_tools"),
    ben(AP, "2024-06-10", "support_and_advisory", "redeemed", provided="2024-06-10", activate_by="2025-07-10",
        unlocked="2024-06-10", expires="2025-06-10"),
    ben(AP, "2024-06-10", "on_premises_software", "available", provided="2024-06-10", unlocked=None, expires=None)])})

# ---------------------------------------------------------------- R6
s = scenario("07-r06-active-through-anniversary",
             "R6: AD = S + 12 months and the term is active from S through AD inclusive; in_renewal_window from "
             "AD+1; a purchase on the AD is rejected (the term is still active).")
A = "alpine-ski-house"
s.accept(s.verify(A, "2023-08-01"), s.buy(A, "2023-08-15", AP))
s.reject(["R6", "R11"], s.buy(A, "2024-08-15", AP), note="on the AD")
s.q(A, "2023-08-15", {"memberships": [mem(AP, "active", "2023-08-15")]}, note="S")
s.q(A, "2024-08-15", {"memberships": [mem(AP, "active", "2023-08-15") | {"anniversary": "2024-08-15"}]}, note="AD")
s.q(A, "2024-08-16", {"memberships": [mem(AP, "in_renewal_window", "2023-08-15")]}, note="AD+1")

# ---------------------------------------------------------------- R7
s = scenario("08-r07-window-opens-and-closes",
             "R7: window AD+1 .. AD+30 inclusive (AD 2024-10-31 -> 2024-11-01 .. 2024-11-30); a renewal on the AD "
             "is rejected; a renewal on AD+1 (first day) is accepted and starts the new term that day.")
A, B = "bellows-college", "bellows-college-idle"
s.accept(s.verify(A, "2023-10-20"), s.buy(A, "2023-10-31", AP), s.verify(B, "2023-10-20"), s.buy(B, "2023-10-31", AP),
         s.verify(A, "2024-10-20"))
s.reject(["R7", "R8"], s.renew(A, "2024-10-31", AP), note="on the AD: window opens tomorrow")
s.accept(s.renew(A, "2024-11-01", AP), note="AD+1")
s.q(B, "2024-10-31", {"memberships": [mem(AP, "active", "2023-10-31") | {
    "anniversary": "2024-10-31", "renewal_window": {"opens": "2024-11-01", "closes": "2024-11-30"}, "activate_by": "2024-11-30"}]})
s.q(B, "2024-11-01", {"memberships": [mem(AP, "in_renewal_window", "2023-10-31")]})
s.q(B, "2024-11-30", {"memberships": [mem(AP, "in_renewal_window", "2023-10-31")]})
s.q(B, "2024-12-01", {"memberships": [mem(AP, "expired", "2023-10-31")]})
s.q(A, "2024-11-01", {"memberships": ex([mem(AP, "active", "2024-11-01") | {
    "anniversary": "2025-11-01", "renewal_window": {"opens": "2025-11-02", "closes": "2025-12-01"}, "activate_by": "2025-12-01"}])})
s.q(A, "2024-10-31", {"memberships": ex([mem(AP, "active", "2023-10-31")])})

# ---------------------------------------------------------------- R8
s = scenario("09-r08-renewal-moves-anniversary",
             "R8 worked example: start 2023-05-10, renewed 2024-05-20 (day 10 of the window): new AD 2025-05-20, "
             "next window 2025-05-21 .. 2025-06-19; renewed again on its last day; old terms' benefits stay listed.")
A = "coho-winery"
s.accept(s.verify(A, "2023-05-01"), s.buy(A, "2023-05-10", AP), s.verify(A, "2024-05-15"), s.renew(A, "2024-05-20", AP),
         s.verify(A, "2025-06-01"), s.renew(A, "2025-06-19", AP))
s.q(A, "2024-05-19", {"memberships": ex([mem(AP, "in_renewal_window", "2023-05-10")])})
s.q(A, "2024-05-20", {"memberships": ex([mem(AP, "active", "2024-05-20") | {
    "anniversary": "2025-05-20", "renewal_window": {"opens": "2025-05-21", "closes": "2025-06-19"}, "activate_by": "2025-06-20"}]),
    "benefits": [ben(AP, "2023-05-10", "azure_credits", "available", provided="2023-05-10", activate_by="2024-06-10"),
                 ben(AP, "2024-05-20", "azure_credits", "available", provided="2024-05-20", activate_by="2025-06-20")]})
s.q(A, "2025-06-18", {"memberships": ex([mem(AP, "in_renewal_window", "2024-05-20")])})
s.q(A, "2025-06-19", {"memberships": ex([mem(AP, "active", "2025-06-19") | {"anniversary": "2026-06-19"}])})

s = scenario("10-r08-renewal-rejected-before-window-and-without-term",
             "R8: a renewal is accepted only inside the window: earlier than AD+1 it is rejected (twice here), "
             "on an account with no term it is rejected; on AD+1 of a Learning Action Pack it is accepted.")
A, B = "wingtip-toys", "wingtip-toys-new"
s.accept(s.verify(A, "2023-06-20"), s.buy(A, "2023-07-01", LAPS), s.verify(A, "2024-06-10"), s.verify(B, "2024-06-10"))
s.reject("R8", s.renew(A, "2024-06-15", LAPS), note="two weeks before the AD")
s.reject("R8", s.renew(A, "2024-07-01", LAPS), note="on the AD")
s.reject(["R8", "R9"], s.renew(B, "2024-07-01", AP), note="nothing to renew")
s.accept(s.renew(A, "2024-07-02", LAPS), note="AD+1")
s.q(A, "2024-07-02", {"memberships": ex([mem(LAPS, "active", "2024-07-02")])})
s.q(B, "2024-07-02", {"memberships": ex([])})

# ---------------------------------------------------------------- R9
s = scenario("11-r09-lapse-then-new-purchase",
             "R9: not renewed by AD+30 -> expired from AD+31 (2024-02-15); unredeemed benefits forfeited, "
             "on-premises software lost, R24 obligation; a renewal on AD+31 is rejected; a later purchase is a new "
             "term (its own AD) and ends the obligation.")
A = "fabrikam-lapse"
S = "2023-01-15"
s.accept(s.verify(A, "2022-12-01"), s.buy(A, S, AP), s.redeem(A, "2023-02-01", "azure_credits"), s.verify(A, "2024-01-20"))
s.reject(["R8", "R9"], s.renew(A, "2024-02-15", AP), note="AD+31: lapsed")
s.accept(s.buy(A, "2024-03-01", AP), note="a new purchase after lapse")
s.q(A, "2024-02-14", {"memberships": ex([mem(AP, "in_renewal_window", S)]), "obligations": ex([]),
                      "benefits": [ben(AP, S, "support_and_advisory", "available"), ben(AP, S, "on_premises_software", "available")]})
s.q(A, "2024-02-15", {"memberships": ex([mem(AP, "expired", S)]),
                      "benefits": [ben_red(AP, S, "azure_credits", "2023-02-01", status="expired"),
                                   ben(AP, S, "support_and_advisory", "forfeited"),
                                   ben(AP, S, "developer_tools", "forfeited"),
                                   ben(AP, S, "cloud_services", "forfeited"),
                                   ben(AP, S, "on_premises_software", "lost")],
                      "obligations": ex([{"kind": UNINSTALL, "since": "2024-02-15", "offer": AP}])})
s.q(A, "2024-03-01", {"memberships": ex([mem(AP, "active", "2024-03-01") | {"anniversary": "2025-03-01"}]),
                      "obligations": ex([]),
                      "benefits": [ben_avail(AP, "2024-03-01", "azure_credits"), ben(AP, S, "support_and_advisory", "forfeited")]})

# ---------------------------------------------------------------- R10
s = scenario("12-r10-business-profile-before-purchase-and-renewal",
             "R10: a first Action Pack purchase needs a verified profile before it; a renewal needs a verification "
             "dated after the term's start (a verification on the start date is not after it) and on or before the "
             "renewal date (the same day, recorded first, counts).")
A = "relecloud-profile"
s.reject("R10", s.buy(A, "2024-01-10", AP), note="never verified")
s.accept(s.verify(A, "2024-01-05"), s.buy(A, "2024-01-10", AP))
s.reject("R10", s.renew(A, "2025-01-15", AP), note="only verification is before the term's start")
s.accept(s.verify(A, "2024-01-10"), note="back-dated verification on the start date")
s.reject("R10", s.renew(A, "2025-01-15", AP), note="verified on the start date, not after it")
s.reject("R10", s.renew(A, "2025-01-15", AP), s.verify(A, "2025-01-20"), note="verification dated after the renewal")
s.accept(s.verify(A, "2025-01-15"), s.renew(A, "2025-01-15", AP), note="verified the same day, recorded first")
s.q(A, "2025-01-15", {"profile_verified": "2025-01-15", "memberships": ex([mem(AP, "active", "2025-01-15")])})
s.q(A, "2025-01-14", {"profile_verified": "2024-01-10", "memberships": ex([mem(AP, "in_renewal_window", "2024-01-10")])})

# ---------------------------------------------------------------- R11
s = scenario("13-r11-one-term-per-line",
             "R11: an Action Pack purchase while one is active or in its window (AD+30) is rejected; on AD+31 "
             "(lapsed) a purchase is accepted and starts a new term.")
A = "northwind-traders"
s.accept(s.verify(A, "2024-03-20"), s.buy(A, "2024-04-01", AP))
s.reject("R11", s.buy(A, "2024-09-01", AP), note="mid-term")
s.reject("R11", s.buy(A, "2025-05-01", AP), note="AD+30: renew instead")
s.accept(s.buy(A, "2025-05-02", AP), note="AD+31")
s.q(A, "2025-05-01", {"memberships": ex([mem(AP, "in_renewal_window", "2024-04-01")])})
s.q(A, "2025-05-02", {"memberships": ex([mem(AP, "active", "2025-05-02") | {"anniversary": "2026-05-02"}])})

# ---------------------------------------------------------------- R12
s = scenario("14-r12-legacy-package-fixed-despite-designation",
             "R12: a designation earned mid-cycle does not change a legacy_gold term; buying or renewing into "
             "solutions_partner mid-cycle is rejected; the change happens at renewal inside the window.")
A = "trey-research"
s.accept(s.verify(A, "2021-12-01"), s.buy(A, "2022-01-10", GOLD), s.qualify(A, "2022-05-03", "data_and_ai", 85))
s.reject(["R11", "R12"], s.buy(A, "2022-06-01", SP), note="mid-cycle purchase of another package")
s.reject(["R8", "R12"], s.renew(A, "2022-06-01", SP), note="mid-cycle change by renewal")
s.accept(s.qualify(A, "2022-10-01", "modern_work", 75), s.verify(A, "2023-01-05"))
s.accept(s.renew(A, "2023-01-20", SP), note="inside the window 2023-01-11 .. 2023-02-09")
s.q(A, "2022-06-01", {"memberships": ex([mem(GOLD, "active", "2022-01-10")]),
                      "designations": [{"solution_area": "data_and_ai", "qualified": "2022-05-03", "score": 85, "source": A}],
                      "benefits": [ben(GOLD, "2022-01-10", "marketing", "available")]})
s.q(A, "2023-01-19", {"memberships": ex([mem(GOLD, "in_renewal_window", "2022-01-10")])})
s.q(A, "2023-01-20", {"memberships": ex([mem(SP, "active", "2023-01-20")])})

s = scenario("15-r12-action-pack-to-laps-at-renewal",
             "R12/R24: a renewal may move the action-pack line from action_pack to learning_action_pack; LAPS "
             "provides no on-premises software, so from the renewal date the keys are unlicensed, the benefit is "
             "lost and an uninstall obligation starts; buying action_pack mid-cycle is rejected.")
A = "margies-travel-switch"
s.accept(s.verify(A, "2023-08-25"), s.buy(A, "2023-09-01", AP), s.key(A, "2023-09-05", "K-MTS-1", 5),
         s.activate_key(A, "2023-09-06", "K-MTS-1", "srv-01"), s.verify(A, "2024-09-01"))
s.accept(s.renew(A, "2024-09-10", LAPS))
s.reject(["R11", "R12"], s.buy(A, "2024-12-01", AP), note="mid-cycle change of offer")
s.reject(["R21", "R24"], s.activate_key(A, "2024-09-15", "K-MTS-1", "srv-02"), note="licence ended with the switch")
s.q(A, "2024-09-09", {"memberships": ex([mem(AP, "in_renewal_window", "2023-09-01")]), "obligations": ex([]),
                      "product_keys": [{"key": "K-MTS-1", "status": "usable", "activations_used": 1}]})
s.q(A, "2024-09-10", {"memberships": ex([mem(LAPS, "active", "2024-09-10")]),
                      "obligations": ex([{"kind": UNINSTALL, "since": "2024-09-10", "offer": AP}]),
                      "product_keys": [{"key": "K-MTS-1", "status": "unlicensed"}],
                      "benefits": {"$items": [ben(AP, "2023-09-01", "on_premises_software", "lost"),
                                              ben(LAPS, "2024-09-10", "azure_credits", "available"),
                                              ben(LAPS, "2024-09-10", "developer_tools", "available")],
                                   "$without": [{"offer": LAPS, "type": "on_premises_software"}]}})

# ---------------------------------------------------------------- R13
s = scenario("16-r13-purchase-qualification-window",
             "R13 purchase: a designation qualified from the same day five months earlier (2024-07-31 - 5 months = "
             "2024-02-29, clamped) through the purchase date; 2024-02-28 is too early; the purchase date itself "
             "counts; a score below 70 is rejected; an area qualified during the term is added.")
A, B, C = "blue-yonder-airlines", "blue-yonder-cargo", "blue-yonder-charter"
s.accept(s.verify(A, "2024-01-10"), s.qualify(A, "2024-02-29", "azure_infrastructure", 78),
         s.verify(B, "2024-01-10"), s.qualify(B, "2024-02-28", "azure_infrastructure", 95), s.verify(C, "2024-01-10"))
s.accept(s.buy(A, "2024-07-31", SP), note="first day of the window")
s.reject("R13", s.buy(B, "2024-07-31", SP), note="qualified one day too early")
s.reject(["R13", "R30"], s.qualify(B, "2024-07-30", "modern_work", 69), note="score below 70")
s.accept(s.qualify(C, "2024-07-31", "data_and_ai", 70), s.buy(C, "2024-07-31", SP), note="last day: the purchase date")
s.accept(s.qualify(A, "2024-10-01", "security", 91))
s.q(A, "2024-07-31", {"memberships": ex([mem(SP, "active", "2024-07-31") | {
    "anniversary": "2025-07-31", "renewal_window": {"opens": "2025-08-01", "closes": "2025-08-30"}, "activate_by": "2025-08-31"}]),
    "benefits": ex([ben(SP, "2024-07-31", t, "available") for t in TYPES[SP]])})
s.q(A, "2024-10-01", {"designations": ex([
    {"solution_area": "azure_infrastructure", "qualified": "2024-02-29", "score": 78, "source": A},
    {"solution_area": "security", "qualified": "2024-10-01", "score": 91, "source": A}]),
    "memberships": ex([mem(SP, "active", "2024-07-31")])})
s.q(B, "2024-07-31", {"memberships": ex([]),
                      "designations": ex([{"solution_area": "azure_infrastructure", "qualified": "2024-02-28", "score": 95}])})
s.q(C, "2024-07-31", {"memberships": ex([mem(SP, "active", "2024-07-31")])})

s = scenario("17-r13-renewal-qualification-window",
             "R13 renewal: qualification from the first day of the month five months before the AD month "
             "(AD 2024-04-15 -> from 2023-11-01) through the renewal date; 2023-10-31 is too early; a "
             "qualification on the renewal day itself (AD+30) counts.")
A, B = "adventure-works", "adventure-works-cycles"
s.accept(s.verify(A, "2023-03-01"), s.qualify(A, "2023-03-10", "security", 90), s.buy(A, "2023-04-15", SP),
         s.qualify(A, "2023-10-31", "modern_work", 71), s.verify(A, "2024-04-01"),
         s.verify(B, "2023-03-01"), s.qualify(B, "2023-03-10", "security", 90), s.buy(B, "2023-04-15", SP),
         s.verify(B, "2024-04-01"))
s.reject("R13", s.renew(A, "2024-04-20", SP), note="latest qualification 2023-10-31, one day before the window")
s.accept(s.qualify(A, "2023-11-01", "data_and_ai", 70), note="back-dated: first day of the window, minimum score")
s.accept(s.renew(A, "2024-04-20", SP))
s.reject("R13", s.renew(B, "2024-05-15", SP), note="no qualification since 2023-11-01")
s.accept(s.qualify(B, "2024-05-15", "business_applications", 77), s.renew(B, "2024-05-15", SP),
         note="qualified and renewed on AD+30")
s.q(A, "2024-04-20", {"memberships": ex([mem(SP, "active", "2024-04-20") | {"anniversary": "2025-04-20"}]),
                      "designations": ex([{"solution_area": "security", "source": A}, {"solution_area": "modern_work", "source": A},
                                          {"solution_area": "data_and_ai", "qualified": "2023-11-01", "score": 70, "source": A}])})
s.q(B, "2024-05-15", {"memberships": ex([mem(SP, "active", "2024-05-15")])})
s.q(B, "2024-05-14", {"memberships": ex([mem(SP, "in_renewal_window", "2023-04-15")])})

# ---------------------------------------------------------------- R14
s = scenario("18-r14-legacy-purchase-retired-after-2022-09-30",
             "R14: legacy_gold can be bought on 2022-09-30, not on 2022-10-01 or later; the term bought on "
             "2022-09-30 can be renewed (AD+1 = 2023-10-01) since it was active on 2022-09-30.")
A, B = "contoso-pharmacy", "contoso-clinic"
s.accept(s.verify(A, "2022-09-01"), s.buy(A, "2022-09-30", GOLD), s.verify(B, "2022-09-01"))
s.reject("R14", s.buy(B, "2022-10-01", SILVER), note="day after retirement")
s.reject("R14", s.buy(B, "2023-05-01", GOLD))
s.accept(s.verify(A, "2023-09-20"), s.renew(A, "2023-10-01", GOLD))
s.q(A, "2022-09-30", {"memberships": ex([mem(GOLD, "active", "2022-09-30") | {
    "anniversary": "2023-09-30", "renewal_window": {"opens": "2023-10-01", "closes": "2023-10-30"}, "activate_by": "2023-10-30"}]),
    "benefits": ex([ben(GOLD, "2022-09-30", t, "available") for t in TYPES[GOLD]])})
s.q(A, "2023-10-01", {"memberships": ex([mem(GOLD, "active", "2023-10-01")])})
s.q(B, "2023-05-01", {"memberships": ex([])})

s = scenario("19-r14-legacy-renewal-eligibility",
             "R14: after 2022-09-30 a legacy term renews only at the level held on 2022-09-30 (active or in its "
             "window that day) and only without a designation qualified in the R13 renewal window "
             "(AD 2022-11-20 -> from 2022-06-01); a qualified account renews into solutions_partner instead.")
A, B, C, D = "humongous-insurance", "humongous-silver", "humongous-qualified", "humongous-prewindow"
s.accept(s.verify(A, "2021-09-01"), s.buy(A, "2021-09-15", GOLD),
         s.verify(B, "2021-11-01"), s.buy(B, "2021-11-15", SILVER),
         s.verify(C, "2021-11-01"), s.buy(C, "2021-11-20", GOLD), s.qualify(C, "2022-06-01", "modern_work", 80),
         s.verify(D, "2021-11-01"), s.buy(D, "2021-11-20", GOLD), s.qualify(D, "2022-05-31", "modern_work", 80))
s.accept(s.verify(A, "2022-10-01"), s.renew(A, "2022-10-10", GOLD), note="in its window on 2022-09-30")
s.accept(s.verify(B, "2022-11-01"), s.verify(C, "2022-11-01"), s.verify(D, "2022-11-01"))
s.reject("R14", s.renew(B, "2022-11-20", GOLD), note="held silver on 2022-09-30, not gold")
s.accept(s.renew(B, "2022-11-20", SILVER))
s.reject("R14", s.renew(C, "2022-11-25", GOLD), note="qualified 2022-06-01, first day of the R13 window")
s.accept(s.renew(C, "2022-11-25", SP), note="the designation renews into solutions_partner")
s.accept(s.renew(D, "2022-11-25", GOLD), note="qualified 2022-05-31, before the R13 window")
s.q(A, "2022-09-30", {"memberships": ex([mem(GOLD, "in_renewal_window", "2021-09-15")])})
s.q(A, "2022-10-10", {"memberships": ex([mem(GOLD, "active", "2022-10-10")])})
s.q(B, "2022-11-20", {"memberships": ex([mem(SILVER, "active", "2022-11-20")])})
s.q(C, "2022-11-25", {"memberships": ex([mem(SP, "active", "2022-11-25")])})
s.q(D, "2022-11-25", {"memberships": ex([mem(GOLD, "active", "2022-11-25")])})

# ---------------------------------------------------------------- R15
s = scenario("20-r15-merged-away-account-cannot-buy-or-renew",
             "R15/R26: once absorbed on M (2024-06-01), an account cannot purchase or renew on or after M; events "
             "dated before M, recorded after the merge, are still accepted, and show in the absorbing account.")
A, B = "litware-hq", "litware-branch"
s.accept(s.verify(A, "2024-01-05"), s.buy(A, "2024-01-15", AP),
         s.verify(B, "2023-06-01"), s.buy(B, "2023-06-10", AP), s.qualify(B, "2024-05-01", "modern_work", 82))
s.accept(s.merge(A, "2024-06-01", B))
s.accept(s.verify(B, "2024-05-20"), s.buy(B, "2024-05-25", SP), note="dated before M, recorded after the merge")
s.reject(["R15", "R26"], s.buy(B, "2024-08-01", AP), note="purchase after M")
s.reject(["R15", "R26", "R27"], s.renew(B, "2024-06-15", AP), note="renewal after M")
s.reject(["R15", "R26"], s.buy(B, "2024-06-01", LAPS), note="on M itself")
s.q(B, "2024-06-01", {"merged_into": A})
s.q(B, "2024-05-31", {"merged_into": None})
s.q(A, "2024-06-01", {"merged_into": None, "absorbed": ex([{"account": B, "date": "2024-06-01"}]),
                      "memberships": ex([mem(AP, "active", "2024-01-15", source=A), mem(AP, "merged", "2023-06-10", source=B),
                                         mem(SP, "active", "2024-05-25", source=B)])})

# ---------------------------------------------------------------- R16
s = scenario("21-r16-benefit-types-by-offer",
             "R16/R30: Learning Action Pack provides azure_credits, cloud_services, developer_tools, "
             "support_and_advisory (no marketing, no on-premises software); solutions_partner provides all six; "
             "redeeming marketing or issuing a product key under LAPS is rejected.")
A, B = "graphic-design-institute", "graphic-design-partners"
s.accept(s.verify(A, "2024-02-01"), s.buy(A, "2024-02-05", LAPS),
         s.verify(B, "2024-02-01"), s.qualify(B, "2024-02-02", "business_applications", 75), s.buy(B, "2024-02-05", SP))
s.reject(["R16", "R17", "R23", "R30"], s.redeem(A, "2024-03-01", "marketing"), note="LAPS has no marketing")
s.reject(["R16", "R21", "R24", "R30"], s.key(A, "2024-03-01", "K-GDI-1", 5), note="LAPS has no on-premises software")
s.accept(s.redeem(B, "2024-03-01", "marketing"), s.redeem(A, "2024-03-01", "developer_tools"))
s.q(A, "2024-03-01", {"benefits": ex([ben(LAPS, "2024-02-05", "azure_credits", "available"),
                                      ben(LAPS, "2024-02-05", "cloud_services", "available"),
                                      ben_red(LAPS, "2024-02-05", "developer_tools", "2024-03-01"),
                                      ben(LAPS, "2024-02-05", "support_and_advisory", "available")]),
                      "product_keys": ex([])})
s.q(B, "2024-03-01", {"benefits": ex([ben(SP, "2024-02-05", t, "available") for t in TYPES[SP] if t != "marketing"]
                                     + [ben_red(SP, "2024-02-05", "marketing", "2024-03-01")])})

# ---------------------------------------------------------------- R17
s = scenario("22-r17-activate-by-before-window-closes",
             "R17: start 2024-01-31 -> activate-by 2025-02-28 while the window runs to 2025-03-02: a redemption "
             "on 2025-02-28 is accepted, on 2025-03-01 rejected (past activate-by although the term still has "
             "access); unredeemed benefits are forfeited from 2025-03-01; the renewal on 2025-03-02 still works.")
A = "tasmanian-traders"
S = "2024-01-31"
s.accept(s.verify(A, "2024-01-20"), s.buy(A, S, AP), s.redeem(A, "2025-02-28", "azure_credits"), s.verify(A, "2025-02-15"))
s.reject("R17", s.redeem(A, "2025-03-01", "support_and_advisory"), note="activate-by + 1, window still open")
s.accept(s.renew(A, "2025-03-02", AP), note="AD+30")
s.q(A, "2025-02-28", {"memberships": ex([mem(AP, "in_renewal_window", S)]),
                      "benefits": [ben(AP, S, "support_and_advisory", "available", activate_by="2025-02-28"),
                                   ben_red(AP, S, "azure_credits", "2025-02-28")]})
s.q(A, "2025-03-01", {"memberships": ex([mem(AP, "in_renewal_window", S)]),
                      "benefits": [ben(AP, S, "support_and_advisory", "forfeited", unlocked=None),
                                   ben(AP, S, "developer_tools", "forfeited"),
                                   ben(AP, S, "cloud_services", "forfeited"),
                                   ben(AP, S, "azure_credits", "redeemed", unlocked="2025-02-28", expires="2026-02-28")]})
s.q(A, "2025-03-02", {"memberships": ex([mem(AP, "active", "2025-03-02")]),
                      "benefits": [ben(AP, S, "support_and_advisory", "forfeited"),
                                   ben_avail(AP, "2025-03-02", "support_and_advisory")]})

# ---------------------------------------------------------------- R18
s = scenario("23-r18-expiry-and-lapse",
             "R18: redeemed benefits expire unlocked + 12 months inclusive (2024-02-29 -> 2025-02-28) and survive "
             "the lapse; on-premises software is redeemed by the first key (expires null) and lost on AD+31; a "
             "key issued on AD+31 is rejected, on AD+30 accepted.")
A = "wide-world-importers"
S = "2023-05-31"
s.accept(s.verify(A, "2023-05-20"), s.buy(A, S, AP), s.redeem(A, "2023-06-30", "developer_tools"),
         s.redeem(A, "2024-02-29", "azure_credits"))
s.reject(["R18", "R21", "R24"], s.key(A, "2024-07-01", "K-WWI-1", 2), note="AD+31: no access")
s.accept(s.key(A, "2024-06-30", "K-WWI-1", 2), note="AD+30")
s.q(A, "2024-06-30", {"memberships": ex([mem(AP, "in_renewal_window", S)]),
                      "benefits": [ben_red(AP, S, "developer_tools", "2023-06-30"),
                                   ben(AP, S, "on_premises_software", "redeemed", unlocked="2024-06-30", expires=None)],
                      "product_keys": [{"key": "K-WWI-1", "status": "usable", "activations_total": 2,
                                        "activations_used": 0, "activations_remaining": 2, "kind": "mak"}]})
s.q(A, "2024-07-01", {"memberships": ex([mem(AP, "expired", S)]),
                      "benefits": [ben_red(AP, S, "developer_tools", "2023-06-30", status="expired"),
                                   ben_red(AP, S, "azure_credits", "2024-02-29"),
                                   ben(AP, S, "support_and_advisory", "forfeited"),
                                   ben(AP, S, "on_premises_software", "lost")],
                      "product_keys": [{"key": "K-WWI-1", "status": "unlicensed"}]})
s.q(A, "2025-02-28", {"benefits": [ben(AP, S, "azure_credits", "redeemed", expires="2025-02-28")]})
s.q(A, "2025-03-01", {"benefits": [ben(AP, S, "azure_credits", "expired", expires="2025-02-28")]})

# ---------------------------------------------------------------- R19
s = scenario("24-r19-token-activated-whole-and-once",
             "R19: a 25-seat token is activated whole (5 seats rejected), once (a second activation rejected); an "
             "unknown token cannot be activated; the subscription and the cloud_services benefit run 12 months "
             "from activation; the replacement deadline is activation + 30 days (2024-02-10 -> 2024-03-11).")
A = "vanarsdel-tokens"
s.accept(s.verify(A, "2024-01-25"), s.buy(A, "2024-02-01", AP),
         s.token(A, "2024-02-05", "T-VT-1", 25, product="Microsoft 365 E3"))
s.reject("R19", s.activate_token(A, "2024-02-10", "T-VT-1", "vanarsdel.onmicrosoft.com", 5), note="split seats")
s.accept(s.activate_token(A, "2024-02-10", "T-VT-1", "vanarsdel.onmicrosoft.com", 25))
s.reject("R19", s.activate_token(A, "2024-02-11", "T-VT-1", "vanarsdel-eu.onmicrosoft.com", 25), note="second activation")
s.reject("R19", s.activate_token(A, "2024-02-11", "T-VT-9", "vanarsdel.onmicrosoft.com", 25), note="unknown token")
s.q(A, "2024-02-09", {"tokens": ex([{"token": "T-VT-1", "product": "Microsoft 365 E3", "seats": 25, "status": "issued",
                                     "tenant": None, "activated": None, "expires": None, "source": A}]),
                      "benefits": [ben(AP, "2024-02-01", "cloud_services", "available", unlocked=None)]})
s.q(A, "2024-02-10", {"tokens": ex([{"token": "T-VT-1", "status": "activated", "seats": 25,
                                     "tenant": "vanarsdel.onmicrosoft.com", "activated": "2024-02-10",
                                     "expires": "2025-02-10", "replacement_deadline": "2024-03-11",
                                     "replaces": None, "replaced_by": None}]),
                      "benefits": [ben_red(AP, "2024-02-01", "cloud_services", "2024-02-10")]})
s.q(A, "2024-03-11", {"tokens": [{"token": "T-VT-1", "status": "activated", "replacement_deadline": "2024-03-11"}]})
s.q(A, "2024-03-12", {"tokens": [{"token": "T-VT-1", "status": "activated", "replacement_deadline": None}]})
s.q(A, "2025-02-10", {"tokens": [{"token": "T-VT-1", "status": "activated"}]})
s.q(A, "2025-02-11", {"tokens": [{"token": "T-VT-1", "status": "expired"}],
                      "benefits": [ben_red(AP, "2024-02-01", "cloud_services", "2024-02-10", status="expired")]})

s = scenario("25-r19-token-deadlines-and-terms",
             "R19: tokens are issued and activated on or before the term's activate-by while it has access "
             "(activate-by = AD+30 = 2024-07-30 here); on AD+31 both are rejected and an unactivated token is "
             "forfeited; Learning Action Pack also provides tokens; no term, no token.")
A, B, C = "northwind-cloud", "northwind-learning", "northwind-prospect"
S = "2023-06-30"
s.accept(s.verify(A, "2023-06-20"), s.buy(A, S, AP), s.token(A, "2023-07-01", "T-NC-A", 10),
         s.verify(B, "2024-01-02"), s.buy(B, "2024-01-08", LAPS), s.verify(C, "2024-01-02"))
s.accept(s.token(A, "2024-07-30", "T-NC-B", 5), s.activate_token(A, "2024-07-30", "T-NC-A", "northwind.onmicrosoft.com", 10),
         note="activate-by day = AD+30")
s.reject(["R19", "R9", "R17"], s.activate_token(A, "2024-07-31", "T-NC-B", "northwind.onmicrosoft.com", 5), note="AD+31")
s.reject(["R19", "R9", "R17"], s.token(A, "2024-07-31", "T-NC-C", 5), note="AD+31")
s.accept(s.token(B, "2024-02-01", "T-NL-1", 3, product="Microsoft 365 Business Basic"),
         s.activate_token(B, "2024-02-02", "T-NL-1", "northwind-learning.onmicrosoft.com", 3))
s.reject(["R19", "R16", "R23"], s.token(C, "2024-02-01", "T-NP-1", 5), note="no membership")
s.q(A, "2024-07-30", {"memberships": ex([mem(AP, "in_renewal_window", S) | {"activate_by": "2024-07-30"}]),
                      "tokens": ex([{"token": "T-NC-A", "status": "activated", "activated": "2024-07-30", "expires": "2025-07-30"},
                                    {"token": "T-NC-B", "status": "issued"}])})
s.q(A, "2024-07-31", {"memberships": ex([mem(AP, "expired", S)]),
                      "tokens": ex([{"token": "T-NC-A", "status": "activated", "expires": "2025-07-30"},
                                    {"token": "T-NC-B", "status": "forfeited", "activated": None}])})
s.q(B, "2024-02-02", {"tokens": ex([{"token": "T-NL-1", "status": "activated", "seats": 3, "expires": "2025-02-02"}]),
                      "benefits": [ben_red(LAPS, "2024-01-08", "cloud_services", "2024-02-02")]})
s.q(C, "2024-02-01", {"tokens": ex([])})

# ---------------------------------------------------------------- R20
s = scenario("26-r20-replacement-rejected-after-30-days",
             "R20: activation 2023-01-31 -> replacement deadline 2023-03-02 (non-leap): 2023-03-03 is rejected, "
             "2023-03-02 accepted; an unactivated token, a second replacement, a replacement of a replacement "
             "and an unknown reason are rejected; seats_added_instead_of_extending is a valid reason; the "
             "replacement is activated under the original term's activate-by and access.")
A = "fabrikam-cloud"
s.accept(s.verify(A, "2023-01-05"), s.buy(A, "2023-01-10", AP),
         s.token(A, "2023-01-20", "T-FC-1", 10, product="Dynamics 365 Sales"),
         s.token(A, "2023-01-20", "T-FC-2", 20, product="Microsoft 365 E3"),
         s.token(A, "2023-01-20", "T-FC-3", 5, product="Microsoft 365 E3"),
         s.activate_token(A, "2023-01-31", "T-FC-1", "wrong-tenant.onmicrosoft.com", 10),
         s.activate_token(A, "2023-02-01", "T-FC-3", "fabrikam.onmicrosoft.com", 5))
s.reject("R20", s.replace(A, "2023-03-03", "T-FC-1", "R-FC-1"), note="activation + 31 days")
s.reject("R20", s.replace(A, "2023-02-15", "T-FC-2", "R-FC-2"), note="never activated")
s.step([s.replace(A, "2023-02-15", "T-FC-1", "R-FC-1", reason="customer_changed_mind")], expect="rejected", line=1,
       note="reason other than the two allowed (R20 or malformed)")
s.accept(s.replace(A, "2023-03-02", "T-FC-1", "R-FC-1"), note="activation + 30 days")
s.accept(s.replace(A, "2023-02-10", "T-FC-3", "R-FC-3", reason="seats_added_instead_of_extending"))
s.reject("R20", s.replace(A, "2023-03-02", "T-FC-1", "R-FC-1B"), note="second replacement of the same original")
s.accept(s.activate_token(A, "2024-02-09", "R-FC-1", "fabrikam.onmicrosoft.com", 10), note="AD+30 of the original term")
s.reject("R20", s.replace(A, "2024-02-09", "R-FC-1", "R-FC-1C"), note="a replacement is never replaceable")
s.reject(["R19", "R20", "R9"], s.activate_token(A, "2024-02-10", "R-FC-3", "fabrikam.onmicrosoft.com", 5),
         note="original term lapsed on 2024-02-10")
s.q(A, "2023-03-01", {"tokens": [{"token": "T-FC-1", "status": "activated", "replacement_deadline": "2023-03-02"},
                                 {"token": "T-FC-2", "status": "issued", "replacement_deadline": None}]})
s.q(A, "2023-03-02", {"tokens": {"$items": [
    {"token": "T-FC-1", "status": "replaced", "replacement_deadline": None, "replaced_by": "R-FC-1"},
    {"token": "R-FC-1", "status": "issued", "product": "Dynamics 365 Sales", "seats": 10, "replaces": "T-FC-1",
     "replacement_deadline": None},
    {"token": "T-FC-3", "status": "replaced", "replaced_by": "R-FC-3"},
    {"token": "R-FC-3", "status": "issued", "product": "Microsoft 365 E3", "seats": 5, "replaces": "T-FC-3"}],
    "$without": [{"token": "R-FC-2"}, {"token": "R-FC-1B"}]}})
s.q(A, "2024-02-09", {"tokens": [{"token": "R-FC-1", "status": "activated", "activated": "2024-02-09",
                                  "expires": "2025-02-09", "replacement_deadline": None, "replaces": "T-FC-1"}]})
s.q(A, "2024-02-10", {"tokens": {"$items": [{"token": "R-FC-3", "status": "forfeited"}, {"token": "T-FC-2", "status": "forfeited"},
                                            {"token": "R-FC-1", "status": "activated"}],
                                 "$without": [{"token": "R-FC-1C"}]}})

# ---------------------------------------------------------------- R21
s = scenario("27-r21-mak-activations",
             "R21: a MAK with 3 activations: new machines use one, the same machine again uses none, the same "
             "machine with hardware_changed uses one; a new machine beyond the number is rejected; the key is "
             "then exhausted but the same machine may still re-activate.")
A = "proseware-labs"
K = "K-PL-1"
s.accept(s.verify(A, "2024-02-20"), s.buy(A, "2024-03-01", AP), s.key(A, "2024-03-02", K, 3),
         s.activate_key(A, "2024-03-03", K, "srv-01"), s.activate_key(A, "2024-03-04", K, "srv-02"),
         s.activate_key(A, "2024-03-05", K, "srv-01", hardware_changed=False))
s.accept(s.activate_key(A, "2024-03-06", K, "srv-01", hardware_changed=True), note="new motherboard")
s.reject("R21", s.activate_key(A, "2024-03-07", K, "srv-03"), note="fourth machine, no activations left")
s.accept(s.activate_key(A, "2024-03-08", K, "srv-02"), note="same machine again uses none")
s.q(A, "2024-03-05", {"product_keys": ex([{"key": K, "product": "Windows Server 2022 Standard", "kind": "mak",
                                          "activations_total": 3, "activations_used": 2, "activations_remaining": 1,
                                          "status": "usable", "source": A}]),
                      "benefits": [ben(AP, "2024-03-01", "on_premises_software", "redeemed", unlocked="2024-03-02", expires=None)]})
s.q(A, "2024-03-08", {"product_keys": ex([{"key": K, "activations_total": 3, "activations_used": 3,
                                          "activations_remaining": 0, "status": "exhausted"}])})
s.q(A, "2024-03-01", {"product_keys": ex([]),
                      "benefits": [ben(AP, "2024-03-01", "on_premises_software", "available", unlocked=None)]})

s = scenario("28-r21-single-keys",
             "R21: a single key has exactly one activation: a second machine is rejected, `single` with 2 "
             "activations is rejected, an unknown key cannot be activated.")
A = "proseware-office"
s.accept(s.verify(A, "2024-03-20"), s.buy(A, "2024-04-01", AP),
         s.key(A, "2024-04-02", "K-PO-1", 1, kind="single", product="Office LTSC Professional Plus 2021"),
         s.activate_key(A, "2024-04-03", "K-PO-1", "laptop-ann"))
s.reject("R21", s.activate_key(A, "2024-04-04", "K-PO-1", "laptop-bob"), note="single key already used")
s.reject("R21", s.key(A, "2024-04-04", "K-PO-2", 2, kind="single", product="Windows 11 Pro"), note="single with 2")
s.reject("R21", s.activate_key(A, "2024-04-04", "K-PO-9", "laptop-bob"), note="unknown key")
s.accept(s.key(A, "2024-04-05", "K-PO-3", 1, kind="single", product="Windows 11 Pro"))
s.q(A, "2024-04-05", {"product_keys": ex([
    {"key": "K-PO-1", "kind": "single", "activations_total": 1, "activations_used": 1, "activations_remaining": 0, "status": "exhausted"},
    {"key": "K-PO-3", "kind": "single", "activations_total": 1, "activations_used": 0, "activations_remaining": 1, "status": "usable"}])})

# ---------------------------------------------------------------- R22
s = scenario("29-r22-vs-subscriptions-assign-activate-expire",
             "R22: an Action Pack gives 3 professional subscriptions; the first assignment unlocks developer_tools "
             "(expiry 12 months later) and every subscription is valid until then; an assigned subscription cannot "
             "go to a second user; enterprise needs a package term; a fourth subscription is rejected.")
A = "coho-vineyard"
S = "2024-01-15"
s.accept(s.verify(A, "2024-01-05"), s.buy(A, S, AP), s.assign(A, "2024-02-01", "VS-CV-1", "dev1@cohovineyard.com"),
         s.activate_vs(A, "2024-02-03", "VS-CV-1"))
s.reject("R22", s.assign(A, "2024-02-05", "VS-CV-1", "dev2@cohovineyard.com"), note="no shared sign-in")
s.reject("R22", s.assign(A, "2024-02-05", "VS-CV-9", "dev2@cohovineyard.com", level="enterprise"), note="enterprise on an Action Pack")
s.accept(s.assign(A, "2024-02-06", "VS-CV-2", "dev2@cohovineyard.com"), s.assign(A, "2024-02-07", "VS-CV-3", "dev3@cohovineyard.com"))
s.reject(["R22", "R30"], s.assign(A, "2024-02-08", "VS-CV-4", "dev4@cohovineyard.com"), note="fourth professional subscription")
s.q(A, "2024-02-01", {"vs_subscriptions": ex([{"subscription": "VS-CV-1", "level": "professional", "user": "dev1@cohovineyard.com",
                                               "status": "assigned", "assigned": "2024-02-01", "activated": None,
                                               "expires": "2025-02-01", "source": A}]),
                      "benefits": [ben(AP, S, "developer_tools", "redeemed", unlocked="2024-02-01", expires="2025-02-01")]})
s.q(A, "2024-02-08", {"vs_subscriptions": ex([
    {"subscription": "VS-CV-1", "status": "active", "activated": "2024-02-03", "expires": "2025-02-01"},
    {"subscription": "VS-CV-2", "status": "assigned", "user": "dev2@cohovineyard.com", "expires": "2025-02-01"},
    {"subscription": "VS-CV-3", "status": "assigned", "expires": "2025-02-01"}])})
s.q(A, "2025-02-01", {"vs_subscriptions": [{"subscription": "VS-CV-1", "status": "active"}]})
s.q(A, "2025-02-02", {"vs_subscriptions": [{"subscription": "VS-CV-1", "status": "expired"}],
                      "benefits": [ben(AP, S, "developer_tools", "expired", unlocked="2024-02-01", expires="2025-02-01")]})

s = scenario("30-r22-vs-reassignment-after-90-days",
             "R22: unassigning an activated subscription is rejected before activation + 90 days (2024-03-05 -> "
             "2024-06-03; 2024-06-02 rejected) and accepted on that day; a never-activated one can be unassigned "
             "at any time; after unassigning, another user can be assigned.")
A = "adatum-dev"
s.accept(s.verify(A, "2024-02-20"), s.buy(A, "2024-03-01", AP),
         s.assign(A, "2024-03-02", "VS-AD-1", "alice@adatum.com"), s.activate_vs(A, "2024-03-05", "VS-AD-1"),
         s.assign(A, "2024-03-10", "VS-AD-2", "carol@adatum.com"))
s.accept(s.unassign(A, "2024-03-11", "VS-AD-2"), s.assign(A, "2024-03-12", "VS-AD-2", "dave@adatum.com"),
         note="never activated: any time")
s.reject("R22", s.unassign(A, "2024-06-02", "VS-AD-1"), note="activation + 89 days")
s.accept(s.unassign(A, "2024-06-03", "VS-AD-1"), note="activation + 90 days")
s.accept(s.assign(A, "2024-06-04", "VS-AD-1", "bob@adatum.com"))
s.reject("R22", s.assign(A, "2024-06-05", "VS-AD-1", "erin@adatum.com"), note="already assigned to bob")
s.q(A, "2024-03-12", {"vs_subscriptions": [{"subscription": "VS-AD-2", "status": "assigned", "user": "dave@adatum.com",
                                            "assigned": "2024-03-12"}]})
s.q(A, "2024-06-03", {"vs_subscriptions": [{"subscription": "VS-AD-1", "status": "unassigned"}]})
s.q(A, "2024-06-04", {"vs_subscriptions": [{"subscription": "VS-AD-1", "status": "assigned", "user": "bob@adatum.com",
                                            "assigned": "2024-06-04", "activated": None, "expires": "2025-03-02"}],
                      "benefits": [ben(AP, "2024-03-01", "developer_tools", "redeemed", unlocked="2024-03-02", expires="2025-03-02")]})

s = scenario("31-r22-enterprise-needs-package-term",
             "R22: with both lines held, an enterprise subscription is accepted from the solutions_partner term "
             "and rejected from the action_pack term (`offer` picks the term); each term's first assignment "
             "unlocks its own developer_tools.")
A = "fourth-coffee-dev"
s.accept(s.verify(A, "2024-01-05"), s.qualify(A, "2024-01-06", "digital_and_app_innovation", 83),
         s.buy(A, "2024-01-10", SP), s.buy(A, "2024-01-10", AP))
s.accept(s.assign(A, "2024-01-20", "VS-FC-E1", "lead@fourthcoffee.com", level="enterprise", offer=SP))
s.reject("R22", s.assign(A, "2024-01-21", "VS-FC-E2", "dev@fourthcoffee.com", level="enterprise", offer=AP),
         note="enterprise from the Action Pack")
s.accept(s.assign(A, "2024-01-22", "VS-FC-P1", "dev@fourthcoffee.com", level="professional", offer=AP))
s.q(A, "2024-01-22", {"vs_subscriptions": ex([
    {"subscription": "VS-FC-E1", "level": "enterprise", "status": "assigned", "expires": "2025-01-20"},
    {"subscription": "VS-FC-P1", "level": "professional", "status": "assigned", "expires": "2025-01-22"}]),
    "benefits": [ben_red(SP, "2024-01-10", "developer_tools", "2024-01-20"),
                 ben_red(AP, "2024-01-10", "developer_tools", "2024-01-22")]})

# ---------------------------------------------------------------- R23
s = scenario("32-r23-redemption-uses-earliest-activate-by",
             "R23/R17: after a renewal both terms have azure_credits and support redeemable; a redemption goes to "
             "the old term (activate-by 2024-04-01) until that date inclusive, then to the new term; the old "
             "term's unredeemed benefits are forfeited from 2024-04-02.")
A = "tasmanian-renewed"
S1, S2 = "2023-03-01", "2024-03-10"
s.accept(s.verify(A, "2023-02-20"), s.buy(A, S1, AP), s.verify(A, "2024-03-05"), s.renew(A, S2, AP))
s.accept(s.redeem(A, "2024-03-20", "azure_credits"))
s.accept(s.redeem(A, "2024-04-01", "support_and_advisory"), note="old term's activate-by")
s.accept(s.redeem(A, "2024-04-02", "support_and_advisory"), note="goes to the new term")
s.reject(["R23", "R16", "R17"], s.redeem(A, "2024-04-03", "marketing", offer=SP), note="no solutions_partner term")
s.q(A, "2024-04-01", {"memberships": ex([mem(AP, "active", S2)]),
                      "benefits": [ben_red(AP, S1, "azure_credits", "2024-03-20"), ben_avail(AP, S2, "azure_credits"),
                                   ben_red(AP, S1, "support_and_advisory", "2024-04-01"),
                                   ben(AP, S2, "support_and_advisory", "available"),
                                   ben(AP, S1, "developer_tools", "available", activate_by="2024-04-01")]})
s.q(A, "2024-04-02", {"benefits": [ben(AP, S1, "developer_tools", "forfeited"),
                                   ben_red(AP, S1, "support_and_advisory", "2024-04-01"),
                                   ben_red(AP, S2, "support_and_advisory", "2024-04-02"),
                                   ben(AP, S2, "azure_credits", "available")]})

# ---------------------------------------------------------------- R24
s = scenario("33-r24-obligation-after-lapse",
             "R24: when an Action Pack lapses the keys become unlicensed, on-premises software is lost and an "
             "uninstall obligation starts on AD+31; a key activation then is rejected; a new Action Pack ends the "
             "obligation; a lapsed LAPS raises none; a renewal into action_pack keeps keys usable.")
A, B, C = "alpine-lapse", "alpine-learning", "alpine-renewed"
s.accept(s.verify(A, "2022-12-20"), s.buy(A, "2023-01-05", AP), s.key(A, "2023-01-10", "K-AL-1", 5),
         s.activate_key(A, "2023-01-11", "K-AL-1", "srv-01"),
         s.verify(B, "2022-12-20"), s.buy(B, "2023-01-05", LAPS),
         s.verify(C, "2022-12-20"), s.buy(C, "2023-01-05", AP), s.key(C, "2023-01-10", "K-AR-1", 2),
         s.verify(C, "2024-01-15"), s.renew(C, "2024-01-20", AP))
s.reject(["R21", "R24"], s.activate_key(A, "2024-02-05", "K-AL-1", "srv-02"), note="AD+31")
s.accept(s.buy(A, "2024-03-01", AP))
s.q(A, "2024-02-04", {"obligations": ex([]), "product_keys": [{"key": "K-AL-1", "status": "usable"}]})
s.q(A, "2024-02-05", {"obligations": ex([{"kind": UNINSTALL, "since": "2024-02-05", "offer": AP}]),
                      "product_keys": [{"key": "K-AL-1", "status": "unlicensed"}],
                      "benefits": [ben(AP, "2023-01-05", "on_premises_software", "lost")]})
s.q(A, "2024-03-01", {"obligations": ex([])})
s.q(B, "2024-02-05", {"memberships": ex([mem(LAPS, "expired", "2023-01-05")]), "obligations": ex([])})
s.q(C, "2024-02-05", {"memberships": ex([mem(AP, "active", "2024-01-20")]), "obligations": ex([]),
                      "product_keys": [{"key": "K-AR-1", "status": "usable"}]})

# ---------------------------------------------------------------- R25
s = scenario("34-r25-access-through-the-window",
             "R25: on AD+30 everything is still accessible (redeem, activate a token, activate a key, assign a "
             "subscription); on AD+31 it is not.")
A = "bellows-window-access"
S = "2023-08-31"
s.accept(s.verify(A, "2023-08-20"), s.buy(A, S, AP), s.token(A, "2023-09-01", "T-BW-1", 10), s.key(A, "2023-09-01", "K-BW-1", 2))
s.accept(s.redeem(A, "2024-09-30", "azure_credits"),
         s.activate_token(A, "2024-09-30", "T-BW-1", "bellows.onmicrosoft.com", 10),
         s.activate_key(A, "2024-09-30", "K-BW-1", "srv-01"),
         s.assign(A, "2024-09-30", "VS-BW-1", "dev@bellows.edu"), note="AD+30")
s.reject(["R25", "R17", "R9"], s.redeem(A, "2024-10-01", "support_and_advisory"), note="AD+31")
s.reject(["R22", "R25", "R9"], s.assign(A, "2024-10-01", "VS-BW-2", "dev2@bellows.edu"), note="AD+31")
s.reject(["R21", "R24", "R25"], s.activate_key(A, "2024-10-01", "K-BW-1", "srv-02"), note="AD+31")
s.q(A, "2024-09-30", {"memberships": ex([mem(AP, "in_renewal_window", S)]),
                      "benefits": [ben_red(AP, S, "azure_credits", "2024-09-30"), ben_red(AP, S, "cloud_services", "2024-09-30"),
                                   ben_red(AP, S, "developer_tools", "2024-09-30")],
                      "tokens": [{"token": "T-BW-1", "status": "activated", "expires": "2025-09-30"}],
                      "product_keys": [{"key": "K-BW-1", "status": "usable", "activations_used": 1}]})
s.q(A, "2024-10-01", {"memberships": ex([mem(AP, "expired", S)]),
                      "benefits": [ben_red(AP, S, "azure_credits", "2024-09-30"), ben(AP, S, "support_and_advisory", "forfeited")],
                      "tokens": [{"token": "T-BW-1", "status": "activated"}],
                      "product_keys": [{"key": "K-BW-1", "status": "unlicensed"}]})

# ---------------------------------------------------------------- R26
s = scenario("35-r26-merge-shows-absorbed-account-with-source",
             "R26: after contoso-global absorbs contoso-nordic on 2024-06-01, the absorbing account shows the "
             "absorbed one's membership, benefits, token, key, subscription and designation with source and own "
             "dates; the absorbed account accepts back-dated events before M, none dated on/after M.")
A, B = "contoso-global", "contoso-nordic"
s.accept(s.verify(A, "2024-01-05"), s.qualify(A, "2024-01-06", "modern_work", 88), s.buy(A, "2024-01-10", SP),
         s.verify(B, "2024-02-01"), s.buy(B, "2024-02-10", AP), s.token(B, "2024-02-12", "T-CN-1", 5),
         s.activate_token(B, "2024-02-15", "T-CN-1", "contosonordic.onmicrosoft.com", 5),
         s.key(B, "2024-02-12", "K-CN-1", 3), s.assign(B, "2024-02-20", "VS-CN-1", "dev@contoso-nordic.se"),
         s.redeem(B, "2024-03-01", "azure_credits"), s.qualify(B, "2024-03-05", "security", 79))
s.accept(s.merge(A, "2024-06-01", B))
s.accept(s.redeem(B, "2024-05-20", "support_and_advisory"), note="dated before M, recorded after the merge")
s.reject("R26", s.redeem(B, "2024-06-01", "developer_tools"), note="on M")
s.reject("R26", s.verify(B, "2024-06-05"), note="after M")
s.q(A, "2024-05-31", {"absorbed": ex([]), "memberships": ex([mem(SP, "active", "2024-01-10", source=A)])})
s.q(A, "2024-06-01", {"merged_into": None, "absorbed": ex([{"account": B, "date": "2024-06-01"}]),
                      "memberships": ex([mem(SP, "active", "2024-01-10", source=A), mem(AP, "active", "2024-02-10", source=B)]),
                      "designations": ex([{"solution_area": "modern_work", "qualified": "2024-01-06", "source": A},
                                          {"solution_area": "security", "qualified": "2024-03-05", "score": 79, "source": B}]),
                      "benefits": [ben_red(AP, "2024-02-10", "azure_credits", "2024-03-01", source=B),
                                   ben_red(AP, "2024-02-10", "support_and_advisory", "2024-05-20", source=B),
                                   ben_red(AP, "2024-02-10", "developer_tools", "2024-02-20", source=B),
                                   ben(SP, "2024-01-10", "marketing", "available", source=A)],
                      "tokens": ex([{"token": "T-CN-1", "status": "activated", "activated": "2024-02-15",
                                     "expires": "2025-02-15", "source": B}]),
                      "product_keys": ex([{"key": "K-CN-1", "status": "usable", "source": B}]),
                      "vs_subscriptions": ex([{"subscription": "VS-CN-1", "status": "assigned", "expires": "2025-02-20",
                                               "source": B}])})
s.q(B, "2024-06-01", {"merged_into": A})
s.q(B, "2024-05-31", {"merged_into": None})

s = scenario("36-r26-merge-rejections",
             "R26: an account cannot absorb itself, be absorbed twice, absorb the account that absorbed it, or "
             "absorb others once absorbed; voiding a merge is rejected (irreversible).")
A, B, C, D = "tailwind-traders", "tailwind-outlet", "tailwind-kiosk", "tailwind-depot"
s.accept(s.verify(A, "2024-01-05"), s.verify(B, "2024-01-05"), s.verify(C, "2024-01-05"), s.verify(D, "2024-01-05"))
s.reject("R26", s.merge(A, "2024-02-01", A), note="absorbs itself")
m = s.merge(A, "2024-03-01", B)
s.accept(m)
s.reject("R26", s.merge(C, "2024-04-01", B), note="absorbed twice")
s.reject("R26", s.merge(B, "2024-04-01", A), note="absorbs its absorber")
s.reject("R26", s.merge(B, "2024-04-01", D), note="absorbed accounts absorb no others")
s.reject(["R26", "R28"], s.void(A, "2024-04-02", m, reason="merged by mistake"), note="merge is irreversible")
s.accept(s.merge(C, "2024-04-01", D))
s.reject("R26", s.merge(D, "2024-04-02", C), note="absorbs its absorber")
s.q(A, "2024-04-01", {"absorbed": ex([{"account": B, "date": "2024-03-01"}]), "merged_into": None})
s.q(B, "2024-04-01", {"merged_into": A})
s.q(C, "2024-04-01", {"absorbed": ex([{"account": D, "date": "2024-04-01"}]), "merged_into": None})

# ---------------------------------------------------------------- R27
s = scenario("37-r27-governing-action-pack-later-anniversary",
             "R27: on the action-pack line the term with the later AD governs (relecloud-west, AD 2025-02-15); "
             "relecloud-main's own term shows `merged`, cannot be renewed in its own window and raises no "
             "obligation when it runs out; the renewal in the governing window gives one new term for the account.")
A, B = "relecloud-main", "relecloud-west"
s.accept(s.verify(A, "2023-08-20"), s.buy(A, "2023-09-01", AP), s.key(A, "2023-09-02", "K-RM-1", 2),
         s.verify(B, "2024-02-01"), s.buy(B, "2024-02-15", AP))
s.accept(s.merge(A, "2024-03-01", B))
s.accept(s.verify(A, "2024-08-25"))
s.reject(["R27", "R8"], s.renew(A, "2024-09-05", AP), note="the merged (non-governing) term's own window")
s.accept(s.verify(A, "2025-02-10"), s.renew(A, "2025-02-20", AP), note="inside the governing window 2025-02-16 .. 2025-03-17")
s.q(A, "2024-03-01", {"memberships": ex([mem(AP, "merged", "2023-09-01", source=A), mem(AP, "active", "2024-02-15", source=B)])})
s.q(A, "2024-10-02", {"memberships": ex([mem(AP, "merged", "2023-09-01", source=A), mem(AP, "active", "2024-02-15", source=B)]),
                      "obligations": ex([])})
s.q(A, "2025-02-16", {"memberships": {"$items": [mem(AP, "in_renewal_window", "2024-02-15", source=B)]}})
s.q(A, "2025-02-20", {"memberships": {"$items": [mem(AP, "active", "2025-02-20", source=A)],
                                      "$without": [{"status": "in_renewal_window"}]}})

s = scenario("38-r27-governing-solutions-partner-over-legacy",
             "R27: on the package line a solutions_partner term governs over a legacy one even with an earlier AD; "
             "the legacy term shows `merged`; solution areas are combined; the account renews solutions_partner "
             "in the governing window (R13 window from 2023-01-01), not the merged legacy term in its own window.")
A, B = "fabrikam-corp", "fabrikam-labs"
s.accept(s.verify(A, "2022-09-01"), s.buy(A, "2022-09-20", GOLD),
         s.verify(B, "2022-06-01"), s.qualify(B, "2022-06-01", "data_and_ai", 84), s.buy(B, "2022-06-15", SP))
s.accept(s.merge(A, "2022-12-01", B))
s.accept(s.qualify(A, "2023-02-01", "modern_work", 76), s.verify(A, "2023-06-01"))
s.reject(["R27", "R8", "R14"], s.renew(A, "2023-09-25", GOLD), note="the merged legacy term's own window")
s.accept(s.renew(A, "2023-06-20", SP), note="governing window 2023-06-16 .. 2023-07-15")
s.q(A, "2022-12-01", {"memberships": ex([mem(GOLD, "merged", "2022-09-20", source=A), mem(SP, "active", "2022-06-15", source=B)]),
                      "designations": ex([{"solution_area": "data_and_ai", "source": B}])})
s.q(A, "2023-06-16", {"memberships": {"$items": [mem(SP, "in_renewal_window", "2022-06-15", source=B),
                                                 mem(GOLD, "merged", "2022-09-20", source=A)]},
                      "designations": ex([{"solution_area": "data_and_ai", "source": B},
                                          {"solution_area": "modern_work", "source": A}])})
s.q(A, "2023-06-20", {"memberships": {"$items": [mem(SP, "active", "2023-06-20", source=A),
                                                 mem(GOLD, "merged", "2022-09-20", source=A)]}})

s = scenario("39-r27-equal-anniversaries-and-expired-term",
             "R27: equal anniversaries: the absorbing account's own term governs and the absorbed one is merged; "
             "only terms with access on M compete: a term already expired on M stays `expired`.")
A, B, C = "woodgrove-bank", "woodgrove-mortgage", "woodgrove-leasing"
s.accept(s.verify(A, "2023-12-20"), s.buy(A, "2024-01-10", AP), s.verify(B, "2023-12-20"), s.buy(B, "2024-01-10", AP),
         s.verify(C, "2021-12-20"), s.buy(C, "2022-01-05", AP))
s.accept(s.merge(A, "2024-04-01", B), s.merge(A, "2024-05-01", C))
s.accept(s.verify(A, "2024-12-20"), s.renew(A, "2025-01-15", AP), note="A's own window")
s.q(A, "2024-05-01", {"absorbed": ex([{"account": B, "date": "2024-04-01"}, {"account": C, "date": "2024-05-01"}]),
                      "memberships": ex([mem(AP, "active", "2024-01-10", source=A), mem(AP, "merged", "2024-01-10", source=B),
                                         mem(AP, "expired", "2022-01-05", source=C)])})
s.q(A, "2025-01-15", {"memberships": {"$items": [mem(AP, "active", "2025-01-15", source=A)]}})

# ---------------------------------------------------------------- R28
s = scenario("40-r28-void-rejections",
             "R28: a void hides the voided event; voiding a void, an already voided event, an unknown event, an "
             "event of another account, or an event the rest of the history depends on is rejected.")
A, B = "southridge-video", "southridge-audio"
v0 = s.verify(A, "2024-01-02")
p = s.buy(A, "2024-01-10", AP)
e1 = s.redeem(A, "2024-02-01", "azure_credits")
e2 = s.redeem(A, "2024-02-02", "support_and_advisory")
s.accept(v0, p, e1, e2, s.verify(B, "2024-01-02"))
v1 = s.void(A, "2024-02-05", e1, reason="redeemed for the wrong subscription")
s.accept(v1)
s.reject("R28", s.void(A, "2024-02-06", v1), note="void of a void")
s.reject("R28", s.void(A, "2024-02-06", e1), note="already voided")
s.reject("R28", s.void(A, "2024-02-06", "0b7f6f5e-3c1a-4e0e-9d41-6a2f9a0c5b11"), note="unknown event")
s.reject("R28", s.void(B, "2024-02-06", e2), note="event of another account")
s.reject(["R28", "R29", "R5", "R17", "R23"], s.void(A, "2024-02-06", p), note="the support redemption needs the purchase")
s.reject(["R28", "R10"], s.void(A, "2024-02-06", v0), note="the purchase needs the verification")
s.q(A, "2024-02-10", {"memberships": ex([mem(AP, "active", "2024-01-10")]),
                      "benefits": [ben(AP, "2024-01-10", "azure_credits", "available", unlocked=None),
                                   ben_red(AP, "2024-01-10", "support_and_advisory", "2024-02-02")]})

s = scenario("41-r28-void-known-at-and-correction",
             "R28: a Learning Action Pack bought by mistake is voided and the Action Pack entered with the same "
             "business date; --known-at shows what was believed before the void (LAPS), between void and "
             "correction (nothing), and after (Action Pack).")
A = "lucerne-publishing"
wrong = s.buy(A, "2024-03-04", LAPS, rec="2024-03-04T10:00:00Z")
s.accept(s.verify(A, "2024-03-01", rec="2024-03-01T10:00:00Z"), wrong)
s.accept(s.void(A, "2024-03-06", wrong, reason="wrong offer keyed in", rec="2024-03-06T12:00:00Z"))
s.accept(s.buy(A, "2024-03-04", AP, rec="2024-03-06T12:05:00Z"), note="the correction, back-dated")
s.q(A, "2024-03-10", {"memberships": ex([mem(LAPS, "active", "2024-03-04")])}, known_at="2024-03-06T11:59:59Z")
s.q(A, "2024-03-10", {"memberships": ex([])}, known_at="2024-03-06T12:00:00Z")
s.q(A, "2024-03-10", {"memberships": ex([mem(AP, "active", "2024-03-04")])}, known_at="2024-03-06T12:05:00Z")
s.q(A, "2024-03-10", {"memberships": ex([mem(AP, "active", "2024-03-04")]),
                      "benefits": {"$items": [ben(AP, "2024-03-04", "on_premises_software", "available")],
                                   "$without": [{"offer": LAPS}]}})
s.q(A, "2024-03-10", {"memberships": ex([])}, known_at="2024-03-01T09:00:00Z", note="before anything was recorded")

# ---------------------------------------------------------------- R29
s = scenario("42-r29-back-dated-purchase-breaks-later-purchase",
             "R29: a back-dated Action Pack purchase (2024-03-01) would make the recorded purchase of 2024-05-01 "
             "invalid (R11) and is rejected naming it; a back-dated redemption that breaks nothing is folded in.")
A = "adatum-corp"
later = s.buy(A, "2024-05-01", AP)
s.accept(s.verify(A, "2024-01-02"), later)
s.reject(["R29", "R11"], s.buy(A, "2024-03-01", AP), note="back-dated", stderr_any=[later["id"], "2024-05-01"])
s.accept(s.redeem(A, "2024-05-10", "azure_credits", rec="2024-07-01T09:00:00Z"))
s.q(A, "2024-06-01", {"memberships": ex([mem(AP, "active", "2024-05-01")]),
                      "benefits": [ben_red(AP, "2024-05-01", "azure_credits", "2024-05-10")]})
s.q(A, "2024-06-01", {"benefits": [ben(AP, "2024-05-01", "azure_credits", "available")]}, known_at="2024-06-30T00:00:00Z")

s = scenario("43-r29-back-dated-activation-breaks-unassign",
             "R29/R22: a subscription assigned and unassigned without activation; a back-dated activation "
             "(2024-02-10) would make the recorded unassignment (2024-03-01, < 90 days) invalid: rejected, naming it.")
A = "datum-devices"
u = s.unassign(A, "2024-03-01", "VS-DD-1")
s.accept(s.verify(A, "2024-01-20"), s.buy(A, "2024-02-01", AP), s.assign(A, "2024-02-05", "VS-DD-1", "kim@datum.example"), u)
s.reject(["R29", "R22"], s.activate_vs(A, "2024-02-10", "VS-DD-1"), note="back-dated", stderr_any=[u["id"], "unassign"])
s.q(A, "2024-03-01", {"vs_subscriptions": [{"subscription": "VS-DD-1", "status": "unassigned", "activated": None}]})

s = scenario("44-r29-back-dated-activations-break-later-ones",
             "R29/R21/R19: a back-dated activation of a single key on another machine would exhaust it before the "
             "recorded activation; a back-dated activation of a token would make the recorded one a second "
             "activation; both rejected, naming the later event.")
A = "proseware-backdated"
ka = s.activate_key(A, "2024-04-10", "K-PB-1", "laptop-ann")
ta = s.activate_token(A, "2024-05-10", "T-PB-1", "proseware.onmicrosoft.com", 5)
s.accept(s.verify(A, "2024-03-20"), s.buy(A, "2024-03-25", AP),
         s.key(A, "2024-04-01", "K-PB-1", 1, kind="single", product="Windows 11 Pro"), ka,
         s.token(A, "2024-04-01", "T-PB-1", 5), ta)
s.reject(["R29", "R21"], s.activate_key(A, "2024-04-05", "K-PB-1", "laptop-bob"), stderr_any=[ka["id"], "laptop-ann"])
s.reject(["R29", "R19"], s.activate_token(A, "2024-05-01", "T-PB-1", "proseware-old.onmicrosoft.com", 5),
         stderr_any=[ta["id"]])
s.q(A, "2024-05-10", {"product_keys": [{"key": "K-PB-1", "activations_used": 1, "status": "exhausted"}],
                      "tokens": [{"token": "T-PB-1", "tenant": "proseware.onmicrosoft.com", "activated": "2024-05-10"}]})

# ---------------------------------------------------------------- R30
s = scenario("45-r30-default-catalog",
             "R30: the default catalog has one version for every date: Action Pack sales and legacy renewals go on "
             "after 2025-01-21; Action Pack provides 3 professional subscriptions (a fourth is rejected); the "
             "minimum score is 70 (69 rejected).")
A, B = "contoso-pharma-gold", "contoso-pharma-ap"
s.accept(s.verify(A, "2022-03-01"), s.buy(A, "2022-03-10", GOLD), s.verify(A, "2023-03-01"), s.renew(A, "2023-03-15", GOLD),
         s.verify(A, "2024-03-01"), s.renew(A, "2024-03-20", GOLD), s.verify(A, "2025-03-01"))
s.accept(s.renew(A, "2025-03-25", GOLD), note="legacy renewal after 2025-01-21")
s.accept(s.verify(B, "2025-05-20"), s.buy(B, "2025-06-01", AP), note="Action Pack purchase after 2025-01-21")
s.accept(s.assign(B, "2025-06-02", "VS-CP-1", "a@contoso-pharma.example"), s.assign(B, "2025-06-02", "VS-CP-2", "b@contoso-pharma.example"),
         s.assign(B, "2025-06-02", "VS-CP-3", "c@contoso-pharma.example"))
s.reject(["R22", "R30"], s.assign(B, "2025-06-03", "VS-CP-4", "d@contoso-pharma.example"), note="fourth")
s.reject(["R13", "R30"], s.qualify(B, "2025-06-03", "security", 69), note="below the minimum score")
s.q(A, "2025-03-25", {"memberships": ex([mem(GOLD, "active", "2025-03-25") | {"anniversary": "2026-03-25"}])})
s.q(B, "2025-06-03", {"memberships": ex([mem(AP, "active", "2025-06-01")]),
                      "benefits": ex([ben(AP, "2025-06-01", t, "redeemed" if t == "developer_tools" else "available")
                                      for t in TYPES[AP]]),
                      "designations": ex([])})

# ---------------------------------------------------------------- contract
import copy  # noqa: E402
import json  # noqa: E402


def line(e):
    return json.dumps(e)


s = scenario("46-contract-idempotent-re-append",
             "Contract: re-appending an event with the same id and content is a no-op (also when recorded_at is "
             "written with another offset for the same instant, or left out); the same id with other content is "
             "rejected; a file mixing a known event and a new one adds only the new one.")
A = "blue-yonder-idem"
e = [s.verify(A, "2024-04-01", rec="2024-04-02T08:00:00Z"), s.buy(A, "2024-04-02", AP, rec="2024-04-02T08:00:00Z"),
     s.redeem(A, "2024-04-02", "azure_credits", rec="2024-04-02T08:00:00Z")]
s.accept(*e)
s.step(None, raw=[line(x) for x in e], added=0, unchanged=True, note="same file again")
other = copy.deepcopy(e[2]); other["data"] = {"benefit": "support_and_advisory"}
s.step(None, raw=[line(other)], expect="rejected", rule=None, line=1, note="same id, different data")
other = copy.deepcopy(e[2]); other["date"] = "2024-04-03"
s.step(None, raw=[line(other)], expect="rejected", rule=None, line=1, note="same id, different date")
same = copy.deepcopy(e[2]); same["recorded_at"] = "2024-04-02T10:00:00+02:00"
s.step(None, raw=[line(same)], added=0, unchanged=True, note="same instant written with +02:00")
same = copy.deepcopy(e[2]); del same["recorded_at"]
s.step(None, raw=[line(same)], added=0, unchanged=True, note="recorded_at left out")
new = s.redeem(A, "2024-04-03", "support_and_advisory", rec="2024-04-03T09:00:00Z")
s.step(None, raw=[line(e[0]), line(new)], added=1, note="one known, one new")
s.q(A, "2024-04-03", {"benefits": [ben_red(AP, "2024-04-02", "azure_credits", "2024-04-02"),
                                   ben_red(AP, "2024-04-02", "support_and_advisory", "2024-04-03")]})
s.commands.append({"args": ["verify"], "exit": 0})

s = scenario("47-contract-expected-version-conflict",
             "Contract: expected_version must equal the account's stream version (0 = no events); a stale or "
             "future version is a conflict (no rule), the whole append is rejected; versions count per account "
             "and advance within one input.")
A, B = "fineart-school", "fineart-gallery"
s.accept(s.verify(A, "2024-01-02", expected_version=0))
s.reject(None, s.buy(A, "2024-01-10", AP, expected_version=0), note="stale: stream is at 1")
s.reject(None, s.buy(A, "2024-01-10", AP, expected_version=2), note="ahead of the stream")
s.accept(s.buy(A, "2024-01-10", AP, expected_version=1))
s.accept(s.redeem(A, "2024-01-11", "azure_credits", expected_version=2),
         s.redeem(A, "2024-01-12", "support_and_advisory", expected_version=3), s.verify(B, "2024-01-12", expected_version=0))
s.reject(None, s.redeem(A, "2024-01-13", "developer_tools", expected_version=4), s.verify(B, "2024-01-13", expected_version=0),
         line=2, note="B is at version 1")
s.q(A, "2024-01-13", {"benefits": [ben_red(AP, "2024-01-10", "azure_credits", "2024-01-11"),
                                   ben(AP, "2024-01-10", "developer_tools", "available")]})

s = scenario("48-contract-recorded-at-never-backwards",
             "Contract: a given recorded_at earlier than the latest one in the ledger, or earlier than a previous "
             "line of the same input, is rejected (no rule); an equal instant is accepted, whatever its offset.")
A = "trey-clock"
s.accept(s.verify(A, "2024-05-01", rec="2024-05-01T10:00:00Z"), s.buy(A, "2024-05-01", AP, rec="2024-05-01T10:00:00Z"))
s.reject(None, s.redeem(A, "2024-05-02", "azure_credits", rec="2024-05-01T09:59:59Z"), note="one second before the ledger's latest")
s.reject(None, s.redeem(A, "2024-05-02", "azure_credits", rec="2024-05-02T10:00:00Z"),
         s.redeem(A, "2024-05-02", "support_and_advisory", rec="2024-05-02T09:00:00Z"), line=2, note="backwards inside the input")
s.accept(s.redeem(A, "2024-05-02", "azure_credits", rec="2024-05-02T12:00:00+02:00"))
s.accept(s.redeem(A, "2024-05-02", "support_and_advisory", rec="2024-05-02T10:00:00Z"), note="same instant as the latest")
s.q(A, "2024-05-02", {"benefits": [ben_red(AP, "2024-05-01", "azure_credits", "2024-05-02"),
                                   ben_red(AP, "2024-05-01", "support_and_advisory", "2024-05-02")]})

s = scenario("49-contract-malformed-lines",
             "Contract: malformed lines (bad account name, impossible or badly written date, bad recorded_at, "
             "zero seats, missing data field, void of a non-UUID, benefit type outside the enum) reject the whole "
             "append naming their line; the store keeps working.")
A = "litware-bad-input"
s.accept(s.verify(A, "2024-06-01"), s.buy(A, "2024-06-01", AP))


def bad(note, **changes):
    good = s.stamp(s.verify(A, "2024-06-02"))
    b = s.stamp(s.verify(A, "2024-06-03"))
    data = changes.pop("data", None)
    b.update(changes)
    if data is not None:
        b["data"] = data
    s.step(None, raw=[line(good), line(b)], expect="rejected", rule=None, line=2, note=note)


bad("account name with a space", account="litware bad")
bad("account name of 65 characters", account="l" * 65)
bad("2024-02-30 does not exist", date="2024-02-30")
bad("date with slashes", date="2024/06/03")
bad("recorded_at is not RFC 3339", recorded_at="yesterday")
bad("token with 0 seats", type="token_issued", data={"token": "T-LB-1", "product": "Microsoft 365 E3", "seats": 0})
bad("product key without product", type="product_key_issued", data={"key": "K-LB-1", "activations": 2, "kind": "mak"})
bad("void of an id that is not a UUID", type="event_voided", data={"event": "evt-17", "reason": "typo"})
bad("unknown key kind", type="product_key_issued", data={"key": "K-LB-2", "product": "Windows 11 Pro", "activations": 2, "kind": "oem"})
s.accept(s.redeem(A, "2024-06-05", "azure_credits"), note="the store still works")
s.q(A, "2024-06-05", {"profile_verified": "2024-06-01", "product_keys": ex([]), "tokens": ex([]),
                      "benefits": [ben_red(AP, "2024-06-01", "azure_credits", "2024-06-05")]})
s.commands.append({"args": ["verify"], "exit": 0})

s = scenario("50-contract-rejected-event-mid-file",
             "Contract: one rejected event in the middle of a file (line 3, R11) rejects the whole append and the "
             "log is unchanged; every rejected event gets its own line (R19 on line 1 and R11 on line 2).")
A = "northwind-batch"
s.accept(s.verify(A, "2024-01-25"), s.buy(A, "2024-02-01", AP))
s.reject("R11", s.redeem(A, "2024-02-05", "azure_credits"), s.redeem(A, "2024-02-06", "support_and_advisory"),
         s.buy(A, "2024-02-07", AP), s.key(A, "2024-02-08", "K-NB-1", 2), s.verify(A, "2024-02-09"), line=3)
s.reject("R11", s.activate_token(A, "2024-02-10", "T-NB-404", "northwind.onmicrosoft.com", 5),
         s.buy(A, "2024-02-10", LAPS), line=2, note="second of two rejected events")
s.reject("R19", s.activate_token(A, "2024-02-10", "T-NB-404", "northwind.onmicrosoft.com", 5),
         s.buy(A, "2024-02-10", LAPS), line=1, note="first of two rejected events")
s.q(A, "2024-02-10", {"memberships": ex([mem(AP, "active", "2024-02-01")]), "product_keys": ex([]), "tokens": ex([]),
                      "profile_verified": "2024-01-25",
                      "benefits": [ben(AP, "2024-02-01", "azure_credits", "available"),
                                   ben(AP, "2024-02-01", "support_and_advisory", "available")]})
s.commands.append({"args": ["verify"], "exit": 0})

# ---------------------------------------------------------------- write
if __name__ == "__main__":
    names = [x.name for x in ALL]
    assert len(names) == len(set(names)), "duplicate scenario names"
    for x in ALL:
        x.write(ROOT)
    print(f"wrote {len(ALL)} scenarios")
