"""Labels of the report in English and Swedish (``--lang sv|en``): a small dictionary, English as fallback.

Keys are column, metric and chart names; a key missing from the dictionary is shown with its underscores
replaced by spaces, so a new column is readable before it is translated.
"""

from __future__ import annotations

LANGS = ("sv", "en")

# key: (English, Swedish)
LABELS: dict[str, tuple[str, str]] = {
    # axes and common words
    "year": ("Year", "År"),
    "month": ("Month", "Månad"),
    "scenario": ("Scenario", "Scenario"),
    "count": ("count", "antal"),
    "devices": ("devices", "hjälpmedel"),
    "share": ("share", "andel"),
    "target": ("target", "mål"),
    "observed": ("observed", "utfall"),
    "simulated": ("simulated", "simulerat"),
    "mean": ("mean", "medel"),
    "band": ("95 % band over replications", "95 % intervall över replikat"),
    "change": ("change on previous year", "förändring mot föregående år"),
    "region": ("Region", "Regionen"),
    "municipalities": ("Municipalities", "Kommunerna"),
    "centre": ("Device centre", "Hjälpmedelscentrum"),
    "persons": ("persons", "personer"),
    "MSEK": ("MSEK", "mnkr"),
    "kSEK": ("kSEK", "tkr"),
    "SEK": ("SEK", "kr"),
    # volumes
    "orders": ("Orders", "Beställningar"),
    "returns": ("Returns", "Returer"),
    "recondition_work_orders": ("Reconditioning work orders", "Arbetsordrar rekonditionering"),
    "technical_work_orders": ("Technical work orders", "Arbetsordrar teknik"),
    "pickup_orders": ("Pickup orders", "Hämtordrar"),
    "deliveries": ("Deliveries", "Leveranser"),
    "scrapped": ("Scrapped", "Utrangerade"),
    "on_rent": ("Tracked devices on rent", "Individmärkta hjälpmedel uthyrda"),
    "orders_per_1000": ("Orders per 1 000 inhabitants", "Beställningar per 1 000 invånare"),
    "population": ("Population", "Befolkning"),
    "age_65_plus": ("65+", "65+"),
    "age_80_plus": ("80+", "80+"),
    # service
    "delivery_on_planned_day": ("Delivery on planned day", "Leverans på planerad dag"),
    "repair_done_within_5_workdays": ("Repair within 5 workdays", "Reparation inom 5 arbetsdagar"),
    "fitting_offered_within_15_workdays": ("Fitting within 15 workdays", "Utprovning inom 15 arbetsdagar"),
    "rental_rate": ("Rental rate", "Uthyrningsgrad"),
    "mil_per_device": ("Mil driven per tracked device on rent", "Mil per uthyrt individmärkt hjälpmedel"),
    "delivery_lead_time_days": ("Delivery lead time (days)", "Ledtid leverans (dagar)"),
    "repair_workdays": ("Repair time (workdays)", "Reparationstid (arbetsdagar)"),
    "fitting_wait_workdays": ("Fitting wait (workdays)", "Väntetid utprovning (arbetsdagar)"),
    # fleet
    "zero_price_share": ("Share rented at price 0", "Andel uthyrda till pris 0"),
    "zero_price_devices": ("Devices rented at price 0", "Hjälpmedel uthyrda till pris 0"),
    "mean_age_years": ("Mean age (years)", "Medelålder (år)"),
    "reuse_rate": ("Reuse rate", "Återanvändningsgrad"),
    "in_workshop": ("Awaiting or in reconditioning", "Väntar på eller i rekonditionering"),
    "room_use": ("Room use", "Lokalutnyttjande"),
    "stock_new": ("Stock, new", "Lager, nya"),
    "stock_reconditioned": ("Stock, reconditioned", "Lager, rekonditionerade"),
    "backorders_open": ("Open backorders", "Restorder"),
    # capacity
    "utilisation": ("Utilisation", "Beläggning"),
    "reconditioning_technicians": ("Reconditioning technicians", "Rekonditioneringstekniker"),
    "service_technicians": ("Service technicians", "Servicetekniker"),
    "consultants": ("Consultants", "Konsulenter"),
    "km": ("km", "km"),
    "stops": ("Stops", "Stopp"),
    # money
    "revenue": ("Revenue", "Intäkter"),
    "costs": ("Costs", "Kostnader"),
    "result": ("Result", "Resultat"),
    "settled": ("Settled with principals", "Reglerat med huvudmännen"),
    "product_result": ("Products", "Produkter"),
    "operations_result": ("Operations", "Verksamhet"),
    "settlement": ("Settlement (+ repaid)", "Reglering (+ återbetalt)"),
    "net_cost": ("Net cost", "Nettokostnad"),
    "net_cost_per_inhabitant": ("Net cost per inhabitant", "Nettokostnad per invånare"),
    "book_value_end": ("Book value at year end", "Bokfört värde vid årets slut"),
    "depreciation": ("Depreciation", "Avskrivningar"),
    "capitalised": ("Capitalised purchases", "Aktiverade inköp"),
    "expensed": ("Expensed purchases", "Kostnadsförda inköp"),
    "cost_staff_technicians": ("Staff: technicians", "Personal: tekniker"),
    "cost_staff_consultants": ("Staff: consultants", "Personal: konsulenter"),
    "cost_staff_warehouse": ("Staff: warehouse", "Personal: lager"),
    "cost_staff_drivers": ("Staff: drivers", "Personal: chaufförer"),
    "cost_staff_customer_service": ("Staff: customer service", "Personal: kundtjänst"),
    "cost_staff_administration": ("Staff: administration", "Personal: administration"),
    "cost_premises": ("Premises", "Lokaler"),
    "cost_transport": ("Transport", "Transporter"),
    "cost_it": ("IT", "IT"),
    "cost_other": ("Other", "Övrigt"),
    "cost_governance": ("Governance", "Styrning"),
    "cost_external_work": ("External work", "Externa tjänster"),
    "cost_devices_expensed": ("Devices expensed", "Hjälpmedel kostnadsförda"),
    "cost_depreciation": ("Depreciation", "Avskrivningar"),
    "cost_spare_parts": ("Spare parts", "Reservdelar"),
    "cost_write_offs": ("Write-offs", "Nedskrivningar"),
    "cost_financial": ("Financial costs", "Finansiella kostnader"),
    # scenarios
    "difference": ("Difference to baseline", "Skillnad mot jämförelsescenario"),
    "ledger_costs": ("Centre's costs", "Centrets kostnader"),
    "ledger_result": ("Centre's result", "Centrets resultat"),
    "ledger_revenue": ("Centre's revenue", "Centrets intäkter"),
    "ledger_settled": ("Settled", "Reglerat"),
    "prescribed_by": ("prescribed by", "förskrivet av"),
    "paid_by": ("paid by", "betalt av"),
    "rentals_started": ("Rentals started", "Påbörjade uthyrningar"),
    "muni_prescribed_share": ("prescribed by municipalities", "förskrivet av kommunerna"),
    "muni_paid_share": ("paid by municipalities", "betalt av kommunerna"),
    "municipalities_share": (
        "Municipalities' share of rentals started",
        "Kommunernas andel av uthyrningarna",
    ),
    # credibility
    "fitted": ("fitted", "anpassat"),
    "holdout": ("hold-out", "kontrollmål"),
    "before": ("before", "före"),
    "after": ("after", "efter"),
    "naive_forecast": ("naive forecast", "naiv prognos"),
    "relative_error": ("Simulated vs observed (relative error)", "Simulerat mot utfall (relativt fel)"),
    "cost": ("objective", "målfunktion"),
    "best_so_far": ("best so far", "bästa hittills"),
    "convergence": ("Convergence", "Konvergens"),
    "evaluation": ("evaluation", "utvärdering"),
    "index": ("index", "index"),
    "ledger_region_net_cost": ("Region's net cost", "Regionens nettokostnad"),
    "ledger_municipalities_net_cost": ("Municipalities' net cost", "Kommunernas nettokostnad"),
    "kpi_delivery_on_planned_day": ("Delivery on planned day", "Leverans på planerad dag"),
    "kpi_repair_done_within_5_workdays": ("Repair within 5 workdays", "Reparation inom 5 arbetsdagar"),
    "kpi_fitting_offered_within_15_workdays": (
        "Fitting within 15 workdays",
        "Utprovning inom 15 arbetsdagar",
    ),
    "kpi_rental_rate_devices_at_customer": ("Rental rate", "Uthyrningsgrad"),
    "kpi_mil_driven_per_rented_individual_volume": (
        "Mil per tracked device",
        "Mil per individmärkt hjälpmedel",
    ),
    "technician_utilisation": ("Technician utilisation", "Teknikernas beläggning"),
    "rented_volume_individual": ("Tracked devices on rent", "Individmärkta hjälpmedel uthyrda"),
    "transition": ("transition", "övergång"),
    # sections
    "Volumes": ("Volumes", "Volymer"),
    "Service": ("Service", "Service"),
    "Fleet": ("Fleet", "Hjälpmedelsbestånd"),
    "Capacity": ("Capacity", "Kapacitet"),
    "Money": ("Money", "Ekonomi"),
    "Scenarios": ("Scenarios", "Scenarier"),
    "Credibility": ("Credibility", "Trovärdighet"),
}


class Labels:
    """Look up labels in one language (``sv`` or ``en``)."""

    def __init__(self, lang: str = "en") -> None:
        if lang not in LANGS:
            raise ValueError(f"lang {lang!r}: must be one of {', '.join(LANGS)}")
        self.lang = lang
        self._i = 1 if lang == "sv" else 0

    def __call__(self, key: str) -> str:
        pair = LABELS.get(key)
        if pair is None:
            return key.replace("_", " ")
        return pair[self._i]

    def pick(self, en: str, sv: str) -> str:
        """One of two texts written in place (captions, titles)."""
        return sv if self.lang == "sv" else en
