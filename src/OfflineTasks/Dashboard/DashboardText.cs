using System.Globalization;
using System.Net;

namespace OfflineTasks.Dashboard;

/// <summary>Formatting shared by OfflineTasks' dashboard pages: every text from outside goes through <see cref="E"/>.</summary>
internal static class DashboardText
{
    /// <summary>HTML-encodes <paramref name="text"/>.</summary>
    public static string E(string? text) => WebUtility.HtmlEncode(text ?? "");

    /// <summary>A duration, as "3.1 s", "12 min" or "2.5 h".</summary>
    public static string Age(TimeSpan age) =>
        age < TimeSpan.Zero ? "0.0 s"
        : age < TimeSpan.FromMinutes(2) ? string.Create(CultureInfo.InvariantCulture, $"{age.TotalSeconds:0.0} s")
        : age < TimeSpan.FromHours(2) ? string.Create(CultureInfo.InvariantCulture, $"{age.TotalMinutes:0} min")
        : string.Create(CultureInfo.InvariantCulture, $"{age.TotalHours:0.#} h");

    /// <summary>A moment in UTC, as "2026-12-02 15:04:05 UTC".</summary>
    public static string Utc(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " UTC";

    /// <summary>A <c>&lt;time&gt;</c> element for <paramref name="at"/> with how long ago it was.</summary>
    public static string When(DateTimeOffset at, DateTimeOffset now) =>
        $"<time datetime=\"{at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}\" title=\"{Utc(at)}\">{Age(now - at)} ago</time>";
}
