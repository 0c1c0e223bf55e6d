#!/usr/bin/env python3
"""Writes events/NN-*.jsonl (valid histories: every event is accepted) and
tests/events_expect/NN-*.json (state at key dates, worked out by hand from rules.md).

Each file records in its own era (2025-11-01 + 2 days per file), so that `append events/*.jsonl`
in filename order never sees recorded_at go backwards; business dates are earlier (imports of an
existing trail, some of them back-dated corrections).
"""
import datetime as dt
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "scenarios"))
from _lib import *  # noqa

AP, LAPS, SP, GOLD, SILVER = "action_pack", "learning_action_pack", "solutions_partner", "legacy_gold", "legacy_silver"
UNINSTALL = "uninstall_on_premises_software"
FILES = []


class EventsFile(Scenario):
    def __init__(self, name):
        super().__init__(name, "")
        self.index = len(FILES)
        self.base = dt.datetime(2025, 11, 1) + dt.timedelta(days=2 * self.index)
        self.clock = self.base
        self.events = []
        FILES.append(self)

    def at(self, hours):
        """An instant `hours` after the start of this file's era (for --known-at and corrections)."""
        return (self.base + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add(self, *events):
        for e in events:
            if e.get("recorded_at") is None:
                self.clock += dt.timedelta(minutes=1)
                e["recorded_at"] = self.clock.strftime("%Y-%m-%dT%H:%M:%SZ")
            else:
                t = dt.datetime.fromisoformat(e["recorded_at"].rstrip("Z"))
                assert t >= self.clock, (self.name, e)
                self.clock = t
            self.events.append(e)
        return events[0] if len(events) == 1 else events

    def query(self, account, as_of, expect, known_at=None):
        q = {"account": account, "as_of": as_of}
        if known_at:
            q["known_at"] = known_at
        e = {"account": account, "as_of": as_of}
        if not known_at:
            e["known_at"] = None
        e.update(expect)
        q["expect"] = e
        self.queries.append(q)

    def write(self):
        assert self.base + dt.timedelta(days=2) > self.clock, f"{self.name} outgrew its era"
        with open(os.path.join(REPO, "events", self.name + ".jsonl"), "w") as f:
            f.write("".join(json.dumps(e) + "\n" for e in self.events))
        with open(os.path.join(HERE, self.name + ".json"), "w") as f:
            json.dump({"queries": self.queries}, f, indent=2)
            f.write("\n")


def tok(token, **kw):
    return {"token": token, **kw}


def key_(key, **kw):
    return {"key": key, **kw}


def vs(sub, **kw):
    return {"subscription": sub, **kw}


# ------------------------------------------------------------------ 01
f = EventsFile("01-action-pack-bought-renewed-late-lapsed")
A = "contoso-ltd"
S1, S2 = "2021-09-01", "2022-10-01"
buy = f.buy(A, S1, AP)
buy["data"]["fee"] = {"amount": "475.00", "currency": "USD"}
f.add(f.verify(A, "2021-08-25"), buy,
      f.assign(A, "2021-09-03", "VS-CL-1", "dev@contoso.com"), f.activate_vs(A, "2021-09-04", "VS-CL-1"),
      f.redeem(A, "2021-09-10", "azure_credits"),
      f.token(A, "2021-09-12", "T-CL-1", 5, product="Microsoft 365 Business Premium"),
      f.key(A, "2021-09-12", "K-CL-1", 10), f.activate_key(A, "2021-09-13", "K-CL-1", "srv-01"),
      f.activate_key(A, "2021-09-13", "K-CL-1", "srv-02"),
      f.activate_token(A, "2021-09-15", "T-CL-1", "contosoltd.onmicrosoft.com", 5),
      f.activate_key(A, "2021-09-20", "K-CL-1", "srv-03"),
      f.verify(A, "2022-09-20"), f.redeem(A, "2022-10-01", "support_and_advisory"),
      f.renew(A, S2, AP), f.redeem(A, "2022-10-05", "azure_credits"))
f.query(A, "2021-09-15", {
    "memberships": ex([mem(AP, "active", S1, source=A)]),
    "benefits": [ben_red(AP, S1, "azure_credits", "2021-09-10"), ben_red(AP, S1, "cloud_services", "2021-09-15"),
                 ben_red(AP, S1, "developer_tools", "2021-09-03"), ben_avail(AP, S1, "support_and_advisory"),
                 ben(AP, S1, "on_premises_software", "redeemed", unlocked="2021-09-12", expires=None)],
    "tokens": ex([tok("T-CL-1", status="activated", tenant="contosoltd.onmicrosoft.com", activated="2021-09-15",
                      expires="2022-09-15", replacement_deadline="2021-10-15", source=A)]),
    "product_keys": ex([key_("K-CL-1", activations_total=10, activations_used=2, activations_remaining=8, status="usable")]),
    "vs_subscriptions": ex([vs("VS-CL-1", status="active", assigned="2021-09-03", activated="2021-09-04", expires="2022-09-03")]),
    "obligations": ex([])})
f.query(A, "2022-09-20", {
    "memberships": ex([mem(AP, "in_renewal_window", S1)]),
    "benefits": [ben_red(AP, S1, "azure_credits", "2021-09-10", status="expired"),
                 ben_red(AP, S1, "developer_tools", "2021-09-03", status="expired"),
                 ben(AP, S1, "support_and_advisory", "available")],
    "tokens": [tok("T-CL-1", status="expired")],
    "vs_subscriptions": [vs("VS-CL-1", status="expired")],
    "product_keys": [key_("K-CL-1", activations_used=3, status="usable")]})
f.query(A, S2, {
    "memberships": ex([mem(AP, "active", S2) | {"anniversary": "2023-10-01",
                                                "renewal_window": {"opens": "2023-10-02", "closes": "2023-10-31"},
                                                "activate_by": "2023-11-01"}]),
    "benefits": [ben_red(AP, S1, "support_and_advisory", "2022-10-01"), ben_avail(AP, S2, "support_and_advisory")],
    "product_keys": [key_("K-CL-1", status="usable")], "obligations": ex([])})
f.query(A, "2023-11-01", {
    "memberships": ex([mem(AP, "expired", S2)]),
    "benefits": [ben_red(AP, S2, "azure_credits", "2022-10-05", status="expired"),
                 ben(AP, S2, "support_and_advisory", "forfeited"), ben(AP, S2, "on_premises_software", "lost")],
    "product_keys": [key_("K-CL-1", status="unlicensed")],
    "obligations": ex([{"kind": UNINSTALL, "since": "2023-11-01", "offer": AP}])})

# ------------------------------------------------------------------ 02
f = EventsFile("02-legacy-gold-crossing-2022-09-30")
A, B = "northwind-gold", "northwind-silver"
f.add(f.verify(A, "2021-11-01"), f.buy(A, "2021-11-10", GOLD), f.verify(A, "2022-11-12"), f.renew(A, "2022-11-15", GOLD),
      f.redeem(A, "2022-11-20", "marketing"), f.verify(A, "2023-11-20"), f.renew(A, "2023-11-20", GOLD),
      f.verify(B, "2022-02-20"), f.buy(B, "2022-03-01", SILVER), f.qualify(B, "2022-12-01", "modern_work", 74),
      f.verify(B, "2023-03-01"), f.renew(B, "2023-03-05", SP))
f.query(A, "2022-09-30", {"memberships": ex([mem(GOLD, "active", "2021-11-10")])})
f.query(A, "2022-11-20", {"memberships": ex([mem(GOLD, "active", "2022-11-15")]),
                          "benefits": [ben_red(GOLD, "2021-11-10", "marketing", "2022-11-20"),
                                       ben_avail(GOLD, "2022-11-15", "marketing")]})
f.query(A, "2023-11-20", {"memberships": ex([mem(GOLD, "active", "2023-11-20")])})
f.query(B, "2023-03-04", {"memberships": ex([mem(SILVER, "in_renewal_window", "2022-03-01")])})
f.query(B, "2023-03-05", {"memberships": ex([mem(SP, "active", "2023-03-05")]),
                          "designations": ex([{"solution_area": "modern_work", "qualified": "2022-12-01", "score": 74, "source": B}])})

# ------------------------------------------------------------------ 03
f = EventsFile("03-token-wrong-tenant-replaced")
A = "vanarsdel-ltd"
S = "2024-01-08"
f.add(f.verify(A, "2024-01-02"), f.buy(A, S, AP),
      f.token(A, "2024-01-10", "T-VL-1", 10, product="Dynamics 365 Sales"),
      f.activate_token(A, "2024-01-31", "T-VL-1", "vanarsdel-old.onmicrosoft.com", 10),
      f.replace(A, "2024-02-20", "T-VL-1", "R-VL-1", "wrong_tenant"),
      f.activate_token(A, "2024-02-21", "R-VL-1", "vanarsdel.onmicrosoft.com", 10),
      f.token(A, "2024-03-01", "T-VL-2", 20, product="Microsoft 365 E3"),
      f.activate_token(A, "2024-03-05", "T-VL-2", "vanarsdel.onmicrosoft.com", 20),
      f.replace(A, "2024-04-04", "T-VL-2", "R-VL-2", "seats_added_instead_of_extending"),
      f.activate_token(A, "2024-04-10", "R-VL-2", "vanarsdel.onmicrosoft.com", 20))
f.query(A, "2024-02-15", {"tokens": ex([tok("T-VL-1", status="activated", activated="2024-01-31", expires="2025-01-31",
                                            replacement_deadline="2024-03-01", replaced_by=None)]),
                          "benefits": [ben_red(AP, S, "cloud_services", "2024-01-31")]})
f.query(A, "2024-04-10", {"tokens": ex([
    tok("T-VL-1", status="replaced", replaced_by="R-VL-1", replacement_deadline=None),
    tok("R-VL-1", status="activated", product="Dynamics 365 Sales", seats=10, tenant="vanarsdel.onmicrosoft.com",
        activated="2024-02-21", expires="2025-02-21", replaces="T-VL-1", replacement_deadline=None),
    tok("T-VL-2", status="replaced", replaced_by="R-VL-2", replacement_deadline=None),
    tok("R-VL-2", status="activated", seats=20, activated="2024-04-10", expires="2025-04-10", replaces="T-VL-2")])})
f.query(A, "2025-02-22", {"tokens": [tok("R-VL-1", status="expired"), tok("R-VL-2", status="activated")]})

# ------------------------------------------------------------------ 04
f = EventsFile("04-merge-different-anniversaries")
A, B = "relecloud-global", "relecloud-emea"
f.add(f.verify(A, "2023-03-20"), f.buy(A, "2023-04-01", AP), f.qualify(A, "2023-04-20", "azure_infrastructure", 81),
      f.buy(A, "2023-05-01", SP),
      f.verify(B, "2023-10-01"), f.buy(B, "2023-10-15", AP), f.token(B, "2023-10-20", "T-RE-1", 5),
      f.activate_token(B, "2023-10-25", "T-RE-1", "relecloud-emea.onmicrosoft.com", 5),
      f.key(B, "2023-10-20", "K-RE-1", 4), f.assign(B, "2023-11-01", "VS-RE-1", "dev@relecloud-emea.example"),
      f.merge(A, "2024-02-01", B),
      f.qualify(A, "2024-03-01", "data_and_ai", 79), f.verify(A, "2024-04-25"), f.renew(A, "2024-05-10", SP),
      f.verify(A, "2024-10-10"), f.renew(A, "2024-10-20", AP))
f.query(A, "2024-02-01", {
    "merged_into": None, "absorbed": ex([{"account": B, "date": "2024-02-01"}]),
    "memberships": ex([mem(AP, "merged", "2023-04-01", source=A), mem(AP, "active", "2023-10-15", source=B),
                       mem(SP, "active", "2023-05-01", source=A)]),
    "tokens": ex([tok("T-RE-1", status="activated", expires="2024-10-25", source=B)]),
    "product_keys": ex([key_("K-RE-1", status="usable", source=B)]),
    "vs_subscriptions": ex([vs("VS-RE-1", status="assigned", expires="2024-11-01", source=B)])})
f.query(B, "2024-02-01", {"merged_into": A})
f.query(A, "2024-05-10", {"memberships": {"$items": [mem(SP, "active", "2024-05-10", source=A),
                                                     mem(AP, "active", "2023-10-15", source=B)]},
                          "designations": ex([{"solution_area": "azure_infrastructure", "source": A},
                                              {"solution_area": "data_and_ai", "source": A}])})
f.query(A, "2024-10-16", {"memberships": {"$items": [mem(AP, "in_renewal_window", "2023-10-15", source=B)]}})
f.query(A, "2024-10-20", {"memberships": {"$items": [mem(AP, "active", "2024-10-20", source=A)]}})

# ------------------------------------------------------------------ 05
f = EventsFile("05-back-dated-correction-known-at")
A = "lucerne-media"
S = "2024-03-05"
wrong = f.redeem(A, "2024-04-01", "azure_credits", rec=f.at(1))
f.add(f.verify(A, "2024-03-01"), f.buy(A, S, AP), wrong, f.assign(A, "2024-04-02", "VS-LM-1", "ines@lucerne.example", rec=f.at(2)))
f.add(f.void(A, "2024-04-10", wrong, reason="redeemed by mistake; the customer asked on 2024-04-15", rec=f.at(24)))
f.add(f.redeem(A, "2024-04-15", "azure_credits", rec=f.at(25)))
f.add(f.verify(A, "2025-02-20", rec=f.at(26)), f.renew(A, "2025-03-06", AP, rec=f.at(27)))
f.query(A, "2024-04-20", {"benefits": [ben_red(AP, S, "azure_credits", "2024-04-01")]}, known_at=f.at(23))
f.query(A, "2024-04-20", {"benefits": [ben(AP, S, "azure_credits", "available", unlocked=None)]}, known_at=f.at(24))
f.query(A, "2024-04-20", {"benefits": [ben_red(AP, S, "azure_credits", "2024-04-15"),
                                       ben_red(AP, S, "developer_tools", "2024-04-02")]})
f.query(A, "2025-03-06", {"memberships": ex([mem(AP, "in_renewal_window", S)])}, known_at=f.at(26))
f.query(A, "2025-03-06", {"memberships": ex([mem(AP, "active", "2025-03-06")])})

# ------------------------------------------------------------------ 06
f = EventsFile("06-solutions-partner-designations-renewal")
A = "adventure-works-sp"
S1, S2 = "2023-02-01", "2024-02-10"
buy = f.buy(A, S1, SP)
buy["data"]["fee"] = {"amount": "4730.00", "currency": "USD"}
f.add(f.verify(A, "2023-01-05"), f.qualify(A, "2023-01-10", "data_and_ai", 82), buy,
      f.assign(A, "2023-02-10", "VS-AW-1", "lead@adventure-works.example", level="enterprise"),
      f.activate_vs(A, "2023-02-11", "VS-AW-1"), f.redeem(A, "2023-03-01", "marketing"),
      f.qualify(A, "2023-06-01", "security", 90), f.qualify(A, "2023-10-02", "modern_work", 76),
      f.verify(A, "2024-01-25"), f.renew(A, S2, SP))
f.query(A, "2023-06-01", {
    "memberships": ex([mem(SP, "active", S1) | {"anniversary": "2024-02-01",
                                                "renewal_window": {"opens": "2024-02-02", "closes": "2024-03-02"},
                                                "activate_by": "2024-03-01"}]),
    "designations": ex([{"solution_area": "data_and_ai", "qualified": "2023-01-10", "score": 82, "source": A},
                        {"solution_area": "security", "qualified": "2023-06-01", "score": 90, "source": A}]),
    "benefits": [ben_red(SP, S1, "marketing", "2023-03-01"), ben_red(SP, S1, "developer_tools", "2023-02-10")],
    "vs_subscriptions": ex([vs("VS-AW-1", level="enterprise", status="active", expires="2024-02-10")])})
f.query(A, S2, {"memberships": ex([mem(SP, "active", S2)]),
                "designations": ex([{"solution_area": "data_and_ai"}, {"solution_area": "security"},
                                    {"solution_area": "modern_work", "qualified": "2023-10-02"}])})

# ------------------------------------------------------------------ 07
f = EventsFile("07-product-keys-mak-single-and-renewal")
A = "proseware-inc"
S1, S2 = "2023-06-15", "2024-06-20"
f.add(f.verify(A, "2023-06-01"), f.buy(A, S1, AP),
      f.key(A, "2023-06-20", "K-PI-1", 5, product="Windows Server 2022 Datacenter"),
      f.key(A, "2023-06-20", "K-PI-2", 1, kind="single", product="Windows 11 Pro"),
      f.activate_key(A, "2023-06-21", "K-PI-1", "host-01"), f.activate_key(A, "2023-06-21", "K-PI-1", "host-02"),
      f.activate_key(A, "2023-06-22", "K-PI-2", "laptop-07"),
      f.key(A, "2023-07-01", "K-PI-3", 2, product="Office LTSC Standard 2021"),
      f.activate_key(A, "2023-07-02", "K-PI-3", "pc-1"), f.activate_key(A, "2023-07-02", "K-PI-3", "pc-2"),
      f.activate_key(A, "2023-09-01", "K-PI-1", "host-01", hardware_changed=True),
      f.activate_key(A, "2023-09-02", "K-PI-1", "host-02", hardware_changed=False),
      f.activate_key(A, "2023-09-03", "K-PI-3", "pc-1"),
      f.verify(A, "2024-06-10"), f.renew(A, S2, AP),
      # issued after the old term's activate-by (2024-07-15), so that only the new term can take it (R23)
      f.key(A, "2024-07-20", "K-PI-4", 3, product="SQL Server 2022 Standard"),
      f.activate_key(A, "2024-07-21", "K-PI-4", "sql-01"))
f.query(A, "2023-09-03", {"product_keys": ex([
    key_("K-PI-1", kind="mak", activations_total=5, activations_used=3, activations_remaining=2, status="usable"),
    key_("K-PI-2", kind="single", activations_total=1, activations_used=1, activations_remaining=0, status="exhausted"),
    key_("K-PI-3", kind="mak", activations_total=2, activations_used=2, activations_remaining=0, status="exhausted")]),
    "benefits": [ben(AP, S1, "on_premises_software", "redeemed", unlocked="2023-06-20", expires=None)]})
f.query(A, "2024-07-21", {"memberships": ex([mem(AP, "active", S2)]), "obligations": ex([]),
                          "product_keys": [key_("K-PI-1", status="usable"),
                                           key_("K-PI-4", activations_used=1, activations_remaining=2, status="usable")],
                          "benefits": [ben(AP, S2, "on_premises_software", "redeemed", unlocked="2024-07-20", expires=None)]})

# ------------------------------------------------------------------ 08
f = EventsFile("08-vs-subscriptions-reassignment")
A = "datum-corp"
S = "2024-01-15"
f.add(f.verify(A, "2024-01-10"), f.buy(A, S, AP),
      f.assign(A, "2024-01-20", "VS-DC-1", "ana@datum.example"), f.activate_vs(A, "2024-01-21", "VS-DC-1"),
      f.assign(A, "2024-01-20", "VS-DC-2", "ben@datum.example"), f.activate_vs(A, "2024-01-25", "VS-DC-2"),
      f.assign(A, "2024-02-01", "VS-DC-3", "cho@datum.example"), f.unassign(A, "2024-02-15", "VS-DC-3"),
      f.assign(A, "2024-02-16", "VS-DC-3", "dan@datum.example"),
      f.unassign(A, "2024-04-20", "VS-DC-1"), f.assign(A, "2024-04-22", "VS-DC-1", "eve@datum.example"),
      f.activate_vs(A, "2024-04-23", "VS-DC-1"))
f.query(A, "2024-02-15", {"vs_subscriptions": ex([vs("VS-DC-1", status="active", user="ana@datum.example"),
                                                  vs("VS-DC-2", status="active"), vs("VS-DC-3", status="unassigned")])})
f.query(A, "2024-04-20", {"vs_subscriptions": [vs("VS-DC-1", status="unassigned"),
                                               vs("VS-DC-3", status="assigned", user="dan@datum.example", assigned="2024-02-16")]})
f.query(A, "2024-04-23", {"vs_subscriptions": [vs("VS-DC-1", status="active", user="eve@datum.example", assigned="2024-04-22",
                                                  activated="2024-04-23", expires="2025-01-20")],
                          "benefits": [ben_red(AP, S, "developer_tools", "2024-01-20")]})
f.query(A, "2025-01-21", {"vs_subscriptions": [vs("VS-DC-1", status="expired"), vs("VS-DC-2", status="expired")],
                          "benefits": [ben_red(AP, S, "developer_tools", "2024-01-20", status="expired")]})

# ------------------------------------------------------------------ 09
f = EventsFile("09-laps-switch-obligation-and-back")
A = "margie-learning"
S1, S2, S3 = "2023-05-01", "2024-05-10", "2025-05-15"
f.add(f.verify(A, "2023-04-20"), f.buy(A, S1, AP), f.key(A, "2023-05-03", "K-ML-1", 3),
      f.activate_key(A, "2023-05-04", "K-ML-1", "ws-1"),
      f.verify(A, "2024-05-05"), f.renew(A, S2, LAPS),
      f.verify(A, "2025-05-12"), f.renew(A, S3, AP))
f.query(A, "2024-05-09", {"memberships": ex([mem(AP, "in_renewal_window", S1)]), "obligations": ex([]),
                          "product_keys": [key_("K-ML-1", status="usable")]})
f.query(A, S2, {"memberships": ex([mem(LAPS, "active", S2)]),
                "obligations": ex([{"kind": UNINSTALL, "since": S2, "offer": AP}]),
                "product_keys": [key_("K-ML-1", status="unlicensed")],
                "benefits": {"$items": [ben(AP, S1, "on_premises_software", "lost"), ben_avail(LAPS, S2, "azure_credits")],
                             "$without": [{"offer": LAPS, "type": "on_premises_software"}]}})
f.query(A, "2025-05-14", {"memberships": ex([mem(LAPS, "in_renewal_window", S2)]),
                          "obligations": ex([{"kind": UNINSTALL, "since": S2, "offer": AP}])})
f.query(A, S3, {"memberships": ex([mem(AP, "active", S3)]), "obligations": ex([]),
                "benefits": [ben(AP, S3, "on_premises_software", "available")]})

# ------------------------------------------------------------------ 10
f = EventsFile("10-voids-of-wrong-entries")
A = "southridge-studio"
S = "2024-05-06"
k1 = f.key(A, "2024-05-07", "K-SS-1", 2, product="Windows Server 2022 Standard")
a1 = f.assign(A, "2024-05-08", "VS-SS-1", "wrong.person@southridge.example")
t1 = f.token(A, "2024-05-10", "T-SS-1", 10)
f.add(f.verify(A, "2024-05-01"), f.buy(A, S, AP), k1, a1, t1)
f.add(f.void(A, "2024-05-11", k1, reason="MAK keyed with 2 activations; the order said 5", rec=f.at(3)),
      f.key(A, "2024-05-07", "K-SS-2", 5, product="Windows Server 2022 Standard"))
f.add(f.void(A, "2024-05-11", a1, reason="assigned to the wrong user", rec=f.at(5)),
      f.assign(A, "2024-05-09", "VS-SS-1", "dana@southridge.example"))
f.add(f.void(A, "2024-05-12", t1, reason="token entered twice", rec=f.at(7)),
      f.token(A, "2024-05-10", "T-SS-2", 10))
f.query(A, "2024-05-10", {"product_keys": ex([key_("K-SS-1", activations_total=2)]),
                          "vs_subscriptions": ex([vs("VS-SS-1", user="wrong.person@southridge.example")]),
                          "tokens": ex([tok("T-SS-1", status="issued")])}, known_at=f.at(2))
f.query(A, "2024-05-12", {"product_keys": ex([key_("K-SS-2", activations_total=5, activations_used=0, status="usable")]),
                          "vs_subscriptions": ex([vs("VS-SS-1", user="dana@southridge.example", status="assigned",
                                                     assigned="2024-05-09", expires="2025-05-09")]),
                          "tokens": ex([tok("T-SS-2", status="issued", seats=10)]),
                          "benefits": [ben_red(AP, S, "developer_tools", "2024-05-09"),
                                       ben(AP, S, "on_premises_software", "redeemed", unlocked="2024-05-07")]})

# ------------------------------------------------------------------ 11
f = EventsFile("11-lapse-and-repurchase")
A, B = "fabrikam-residences", "fabrikam-learning"
S1, S2 = "2022-05-10", "2023-09-01"
f.add(f.verify(A, "2022-05-01"), f.buy(A, S1, AP), f.key(A, "2022-05-12", "K-FR-1", 2),
      f.activate_key(A, "2022-05-13", "K-FR-1", "fr-srv-1"), f.redeem(A, "2022-06-01", "azure_credits"),
      f.verify(B, "2022-05-01"), f.buy(B, S1, LAPS), f.redeem(B, "2022-05-20", "support_and_advisory"),
      f.buy(A, S2, AP), f.key(A, "2023-09-02", "K-FR-2", 2))
f.query(A, "2023-06-09", {"memberships": ex([mem(AP, "in_renewal_window", S1)]), "obligations": ex([])})
f.query(A, "2023-06-10", {"memberships": ex([mem(AP, "expired", S1)]),
                          "obligations": ex([{"kind": UNINSTALL, "since": "2023-06-10", "offer": AP}]),
                          "product_keys": ex([key_("K-FR-1", status="unlicensed")]),
                          "benefits": [ben_red(AP, S1, "azure_credits", "2022-06-01", status="expired"),
                                       ben(AP, S1, "support_and_advisory", "forfeited"),
                                       ben(AP, S1, "cloud_services", "forfeited"),
                                       ben(AP, S1, "on_premises_software", "lost")]})
f.query(A, S2, {"memberships": ex([mem(AP, "active", S2)]), "obligations": ex([]),
                "benefits": [ben_avail(AP, S2, "azure_credits"), ben(AP, S1, "support_and_advisory", "forfeited")]})
f.query(B, "2023-06-10", {"memberships": ex([mem(LAPS, "expired", S1)]), "obligations": ex([]),
                          "benefits": [ben_red(LAPS, S1, "support_and_advisory", "2022-05-20", status="expired"),
                                       ben(LAPS, S1, "azure_credits", "forfeited")]})

# ------------------------------------------------------------------ 12
f = EventsFile("12-merge-package-line-governing-term")
A, B = "woodgrove-group", "woodgrove-digital"
f.add(f.verify(A, "2022-08-01"), f.buy(A, "2022-08-15", GOLD),
      f.verify(B, "2022-04-01"), f.qualify(B, "2022-04-05", "business_applications", 86), f.buy(B, "2022-04-20", SP),
      f.redeem(B, "2022-05-01", "marketing"),
      f.merge(A, "2022-11-01", B),
      f.qualify(A, "2022-12-15", "modern_work", 72), f.verify(A, "2023-04-10"), f.renew(A, "2023-04-25", SP))
f.query(A, "2022-11-01", {"absorbed": ex([{"account": B, "date": "2022-11-01"}]),
                          "memberships": ex([mem(GOLD, "merged", "2022-08-15", source=A),
                                             mem(SP, "active", "2022-04-20", source=B)]),
                          "designations": ex([{"solution_area": "business_applications", "source": B}]),
                          "benefits": [ben_red(SP, "2022-04-20", "marketing", "2022-05-01", source=B)]})
f.query(B, "2022-11-01", {"merged_into": A})
f.query(A, "2023-04-21", {"memberships": {"$items": [mem(SP, "in_renewal_window", "2022-04-20", source=B)]}})
f.query(A, "2023-04-25", {"memberships": {"$items": [mem(SP, "active", "2023-04-25", source=A),
                                                     mem(GOLD, "merged", "2022-08-15", source=A)]}})

# ------------------------------------------------------------------ 13
f = EventsFile("13-leap-day-purchase-with-back-dated-entries")
A = "tailspin-aviation"
S1, S2 = "2024-02-29", "2025-03-30"
f.add(f.verify(A, "2024-02-20"), f.buy(A, S1, AP), f.token(A, "2024-03-01", "T-TA-1", 15),
      f.activate_token(A, "2024-03-03", "T-TA-1", "tailspin.onmicrosoft.com", 15))
f.add(f.redeem(A, "2024-02-29", "azure_credits", rec=f.at(5)))
f.add(f.redeem(A, "2025-03-29", "support_and_advisory", rec=f.at(6)), f.verify(A, "2025-03-25"), f.renew(A, S2, AP))
f.query(A, "2025-02-28", {"memberships": ex([mem(AP, "active", S1) | {"anniversary": "2025-02-28", "activate_by": "2025-03-29"}]),
                          "benefits": [ben(AP, S1, "azure_credits", "redeemed", unlocked="2024-02-29", expires="2025-02-28")],
                          "tokens": [tok("T-TA-1", status="activated", expires="2025-03-03")]})
f.query(A, "2024-03-10", {"benefits": [ben(AP, S1, "azure_credits", "available", unlocked=None)]}, known_at=f.at(4))
f.query(A, "2025-03-01", {"memberships": ex([mem(AP, "in_renewal_window", S1)]),
                          "benefits": [ben(AP, S1, "azure_credits", "expired")]})
f.query(A, "2025-03-29", {"benefits": [ben_red(AP, S1, "support_and_advisory", "2025-03-29")]})
f.query(A, S2, {"memberships": ex([mem(AP, "active", S2) | {"anniversary": "2026-03-30"}]),
                "benefits": [ben(AP, S1, "developer_tools", "forfeited"), ben_avail(AP, S2, "developer_tools")]})

if __name__ == "__main__":
    names = [x.name for x in FILES]
    assert len(names) == len(set(names))
    for x in FILES:
        x.write()
    print(f"wrote {len(FILES)} events files")
