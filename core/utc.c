/* gmtime_r for UTC, replacing glibc's. glibc's gmtime_r goes through its
 * time-zone code (tzset, tzfile, and sscanf with it) even for UTC; in the
 * static binary that is ~94 KB of the 2 MiB budget (DESIGN §9), pulled in
 * only because mbedtls checks certificate validity with gmtime_r. UTC needs
 * no time zone: the civil date follows from the day number alone.
 * tests/unit/test_utc.c compares it with glibc's over a wide range. */
#include <stdint.h>
#include <time.h>

struct tm *gmtime_r(const time_t *t, struct tm *tm)
{
	int64_t s = (int64_t)*t, days = s / 86400, rem = s % 86400;
	if (rem < 0) {
		rem += 86400;
		days--;
	}
	tm->tm_hour = (int)(rem / 3600);
	tm->tm_min = (int)(rem % 3600 / 60);
	tm->tm_sec = (int)(rem % 60);
	tm->tm_wday = (int)((days % 7 + 11) % 7);	/* 1970-01-01 was a Thursday */
	/* Days since 0000-03-01 in 400-year eras of 146097 days: with March
	 * first, the leap day falls at the end of the year. */
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;					/* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;	/* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);		/* [0, 365], from March 1 */
	int64_t mp = (5 * doy + 2) / 153;				/* [0, 11], March = 0 */
	int64_t mday = doy - (153 * mp + 2) / 5 + 1, mon = mp < 10 ? mp + 2 : mp - 10;
	int64_t year = yoe + era * 400 + (mon < 2);
	if (year - 1900 > INT32_MAX || year - 1900 < INT32_MIN)
		return NULL;
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	static const short before[12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
	tm->tm_year = (int)(year - 1900);
	tm->tm_mon = (int)mon;
	tm->tm_mday = (int)mday;
	tm->tm_yday = before[mon] + (int)mday - 1 + (leap && mon > 1);
	tm->tm_isdst = 0;
	tm->tm_gmtoff = 0;
	tm->tm_zone = "GMT";
	return tm;
}
