// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title JstCalendar
 * @notice Calendar arithmetic in Japan Standard Time (UTC+9, no daylight saving),
 * the time zone in which the city's points expire and caps reset.
 *
 * @dev A "month index" counts calendar months: `year * 12 + (month - 1)`, so
 * November 2026 is 24322. A "day index" counts JST days since 1970-01-01 JST.
 * Conversions use the days-from-civil algorithm (proleptic Gregorian calendar),
 * valid for every timestamp from 1970 on.
 */
library JstCalendar {
    uint256 internal constant JST_OFFSET = 9 hours;
    uint256 internal constant DAY = 1 days;

    /// @notice The JST day index of `timestamp`.
    function dayIndex(uint256 timestamp) internal pure returns (uint256) {
        return (timestamp + JST_OFFSET) / DAY;
    }

    /// @notice The JST month index of `timestamp`.
    /// @dev Howard Hinnant's civil-from-days algorithm reduced to the month. It counts years from
    /// March (so the leap day ends the year): `era` is the 400-year era, `yoe` the year in it,
    /// `doy` the day in that year and `(5 * doy + 2) / 153` the month from March (0-11). Counted
    /// that way the month index is `(400 * era + yoe) * 12 + monthFromMarch + 2` whether or not
    /// the month falls in January or February, so neither the day nor a branch is needed. Every
    /// movement of points computes it; checked against Python's calendar for every day from
    /// 1970 to 9999 (docs/static-analysis.md).
    function monthIndex(uint256 timestamp) internal pure returns (uint256) {
        uint256 z = dayIndex(timestamp) + 719468; // checked: the only steps that could wrap
        unchecked {
            uint256 era = z / 146097;
            uint256 doe = z % 146097; // [0, 146096]
            uint256 yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // [0, 399]
            uint256 doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
            return (era * 400 + yoe) * 12 + (5 * doy + 2) / 153 + 2;
        }
    }

    /// @notice The first second (UTC timestamp) of month `index` in JST.
    function monthStart(uint256 index) internal pure returns (uint256) {
        return daysFromCivil(index / 12, (index % 12) + 1, 1) * DAY - JST_OFFSET;
    }

    /// @notice The last second of month `index` in JST: points of that month's bucket
    /// are spendable up to and including this timestamp.
    function monthEnd(uint256 index) internal pure returns (uint256) {
        return monthStart(index + 1) - 1;
    }

    /// @notice The month index of the March that ends the fiscal year (April–March)
    /// containing month `index`.
    function fiscalYearEndMonth(uint256 index) internal pure returns (uint256) {
        uint256 year = index / 12;
        uint256 month = (index % 12) + 1;
        return (month >= 4 ? year + 1 : year) * 12 + 2;
    }

    /// @notice Days since 1970-01-01 of the civil date `year-month-day` (year >= 1970).
    function daysFromCivil(uint256 year, uint256 month, uint256 day) internal pure returns (uint256) {
        // Shift the year to start in March so the leap day is the year's last day.
        uint256 y = month <= 2 ? year - 1 : year;
        uint256 era = y / 400;
        uint256 yoe = y - era * 400; // [0, 399]
        uint256 mp = month > 2 ? month - 3 : month + 9; // [0, 11], March = 0
        uint256 doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
        uint256 doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
        return era * 146097 + doe - 719468;
    }
}
