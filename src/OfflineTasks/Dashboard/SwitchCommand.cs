using System.Globalization;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OfflineTasks.Gate;
using OfflineTasks.Hangfire;

namespace OfflineTasks.Dashboard;

/// <summary>
/// The operator switch's command (<c>POST /offlinetasks/shard/{name}/switch</c>, a form: <c>action</c> =
/// <c>force_closed</c>, <c>force_open</c> or <c>clear</c>; <c>reason</c>, required to force; <c>minutes</c>, optional
/// expiry). The actor is the dashboard's authenticated user, or <c>local</c>. Refused, and nothing changed, unless it
/// is a POST with a valid antiforgery token on a dashboard that is not read-only; a form error comes back to the
/// shard's page with the message. The prober applies the switch within a probe interval, posts it to the operations
/// stream and chat; the audit log records it at once.
/// </summary>
internal sealed class SwitchCommand : IDashboardDispatcher
{
    public const string PathTemplate = "/offlinetasks/shard/(?<shard>[^/]+)/switch";

    /// <summary>The longest expiry the form takes: a week.</summary>
    public const int MaxMinutes = 7 * 24 * 60;

    public static string PathFor(string shard) => ShardPage.PathFor(shard) + "/switch";

    public async Task Dispatch(DashboardContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var http = context.GetHttpContext();
        if (!HttpMethods.IsPost(http.Request.Method))
        {
            await Refuse(http, StatusCodes.Status405MethodNotAllowed, "A switch is set with a POST from the shard's page.").ConfigureAwait(false);
            return;
        }

        if (context.IsReadOnly)
        {
            await Refuse(http, StatusCodes.Status403Forbidden, "This dashboard is read-only: switches cannot be set from it.").ConfigureAwait(false);
            return;
        }

        // Hangfire checks the token before any dashboard POST only when antiforgery is registered; a switch insists.
        if (http.RequestServices.GetService<IAntiforgery>() is not { } antiforgery)
        {
            await Refuse(http, StatusCodes.Status403Forbidden,
                "Switches need antiforgery protection, and this host has none: register it with services.AddAntiforgery() (AddOfflineTasks does).").ConfigureAwait(false);
            return;
        }

        if (!await antiforgery.IsRequestValidAsync(http).ConfigureAwait(false))
        {
            await Refuse(http, StatusCodes.Status403Forbidden, "The antiforgery token is missing or wrong; nothing changed. Reload the shard's page and try again.").ConfigureAwait(false);
            return;
        }

        if (GateBinding.For(context.Storage) is not { } binding)
        {
            await Refuse(http, StatusCodes.Status503ServiceUnavailable, "This process runs no OfflineTasks gate for this storage.").ConfigureAwait(false);
            return;
        }

        var shard = Uri.UnescapeDataString(context.UriMatch.Groups["shard"].Value);
        var page = new UrlHelper(context).To(ShardPage.PathFor(shard));
        if (!binding.Gate.IsKnown(shard) && !binding.Gate.Snapshot.States.ContainsKey(shard))
        {
            await Refuse(http, StatusCodes.Status404NotFound, $"Unknown shard '{shard}': it is not configured (OfflineTasks:Gate:Shards).").ConfigureAwait(false);
            return;
        }

        var form = await http.Request.ReadFormAsync(http.RequestAborted).ConfigureAwait(false);
        var action = form["action"].ToString();
        var reason = form["reason"].ToString();
        var minutes = form["minutes"].ToString().Trim();
        var name = http.User?.Identity?.Name;
        var actor = string.IsNullOrWhiteSpace(name) ? "local" : name;
        var now = binding.Time.GetUtcNow();
        string done;
        try
        {
            switch (action)
            {
                case "force_closed" or "force_open":
                    DateTimeOffset? until = null;
                    if (minutes.Length > 0)
                    {
                        if (!double.TryParse(minutes, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) || m <= 0 || m > MaxMinutes)
                        {
                            throw new ArgumentException($"the expiry must be a number of minutes from 1 to {MaxMinutes}, not '{minutes}'.");
                        }

                        until = now + TimeSpan.FromMinutes(m);
                    }

                    var sw = await binding.Store.SetSwitchAsync(shard, action == "force_open" ? ShardMode.Open : ShardMode.Closed, reason, actor, now, until,
                        http.RequestAborted).ConfigureAwait(false);
                    done = $"Shard {shard} forced {(sw.Mode == ShardMode.Open ? "open" : "closed")} by {actor}{(sw.Until is { } u ? $" until {DashboardText.Utc(u)}" : "")}: the prober applies it within a probe interval.";
                    break;
                case "clear":
                    done = await binding.Store.ClearSwitchAsync(shard, actor, reason, now, http.RequestAborted).ConfigureAwait(false)
                        ? $"Switch on shard {shard} cleared by {actor}: the gate decides again within a probe interval."
                        : $"Shard {shard} had no switch to clear.";
                    break;
                default:
                    throw new ArgumentException($"unknown action '{action}': use force_closed, force_open or clear.");
            }
        }
        catch (ArgumentException e)
        {
            var message = e.Message.IndexOf(" (Parameter '", StringComparison.Ordinal) is var cut and >= 0 ? e.Message[..cut] : e.Message;
            http.Response.Redirect(page + "?error=" + Uri.EscapeDataString(message));
            http.Response.StatusCode = StatusCodes.Status303SeeOther;
            return;
        }

        binding.Logger.LogWarning("Dashboard: {Done}", done);
        http.Response.Redirect(page + "?done=" + Uri.EscapeDataString(done));
        http.Response.StatusCode = StatusCodes.Status303SeeOther;
    }

    private static async Task Refuse(HttpContext http, int status, string message)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain; charset=utf-8";
        await http.Response.WriteAsync(message, http.RequestAborted).ConfigureAwait(false);
    }
}
