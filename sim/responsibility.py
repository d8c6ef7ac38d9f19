"""Cost responsibility: which principal pays for a rental or sale, from the patient's attributes.

The DES records attributes (responsibility class, child, special housing, home health care, unit device
and its owner); these rules, chosen by config, turn them into a payer: ``"region"`` or the patient's
municipality. Rules apply in order: region classes, unit devices (the ordering unit's principal),
children, special housing, home health care; everything else is the region's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.config.schema import Prescribing, Responsibility

REGION = "region"


def municipality_pays(
    rules: Responsibility,
    responsibility_class: np.ndarray,
    child: np.ndarray,
    special_housing: np.ndarray,
    home_care: np.ndarray,
    unit_device: np.ndarray,
    unit_municipal: np.ndarray,
) -> np.ndarray:
    """Boolean array: True where the patient's municipality pays, False where the region pays."""
    region_class = np.isin(np.asarray(responsibility_class).astype(str), list(rules.region_classes))
    patient = ~np.asarray(unit_device, dtype=bool)
    child_region = np.asarray(child, dtype=bool) & rules.children_with_region
    muni = np.zeros(len(region_class), dtype=bool)
    if rules.municipality_pays_special_housing:
        muni |= np.asarray(special_housing, dtype=bool)
    if rules.municipality_pays_home_care:
        muni |= np.asarray(home_care, dtype=bool)
    by_patient = patient & ~child_region & muni
    by_unit = ~patient & np.asarray(unit_municipal, dtype=bool)
    return ~region_class & (by_patient | by_unit)


def payer_column(rules: Responsibility, table: pd.DataFrame) -> pd.Series:
    """The payer of each row of a rentals/deliveries table: 'region' or the municipality's name."""
    muni = municipality_pays(
        rules,
        table["responsibility_class"].to_numpy(),
        table["child"].to_numpy(),
        table["special_housing"].to_numpy(),
        table["home_care"].to_numpy(),
        table["unit_device"].to_numpy(),
        table["unit_municipal"].to_numpy(),
    )
    return pd.Series(np.where(muni, _names(table["municipality"]), REGION), index=table.index, name="payer")


def _names(municipality: pd.Series) -> np.ndarray:
    """Each row's municipality as a string (object array); a categorical column's names are converted once
    per category, not once per row (the rentals and deliveries tables have a row per rental or delivery)."""
    if not isinstance(municipality.dtype, pd.CategoricalDtype):
        return municipality.astype(str).to_numpy()
    names = municipality.cat.categories.astype(str).to_numpy(dtype=object)
    codes = municipality.cat.codes.to_numpy()
    if (codes < 0).any():  # a missing name reads "nan", as astype(str) gives it
        return np.where(codes >= 0, names[codes], str(np.nan))
    out: np.ndarray = names[codes]
    return out


def prescriber_column(rules: Prescribing, table: pd.DataFrame) -> pd.Series:
    """The principal whose prescriber wrote each row: 'region' or the municipality's name.

    The DES does not draw prescribers; they follow from the patient's attributes it records, with the rules
    of the 2013 transfer of home health care to the municipalities (``rules``, docs/sources.md P1): a unit
    device by the unit's principal; children and the region's specialist classes by the region; patients in
    special housing or municipal home health care, and adults' devices that need a home visit to prescribe
    and fit, by their municipality; everyone else (primary and hospital care) by the region. The observed
    counterpart is ``muni_share_of_rented_prescriptions`` (Västmanland review 2026, section 4.6).
    """
    unit = table["unit_device"].to_numpy(dtype=bool)
    cls = table["responsibility_class"].astype(str).to_numpy()
    region = np.isin(cls, list(rules.region_classes))
    if rules.children_with_region:
        region |= table["child"].to_numpy(dtype=bool)
    cared = table["special_housing"].to_numpy(dtype=bool) | table["home_care"].to_numpy(dtype=bool)
    patient_muni = ~region & (cared | np.isin(cls, list(rules.home_visit_classes)))
    muni = np.where(unit, table["unit_municipal"].to_numpy(dtype=bool), patient_muni)
    names = _names(table["municipality"])
    return pd.Series(np.where(muni, names, REGION), index=table.index, name="prescriber")
