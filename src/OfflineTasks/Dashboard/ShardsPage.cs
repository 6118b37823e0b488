using Hangfire.Dashboard;
using Hangfire.Dashboard.Pages;
using OfflineTasks.Hangfire;
using static OfflineTasks.Dashboard.DashboardText;

namespace OfflineTasks.Dashboard;

/// <summary>
/// The dashboard's Shards page (<c>/offlinetasks/shards</c>, in the navigation bar): every shard's mode and why, and
/// each master's signals (<see cref="ShardsTable"/>), each shard linking to its own page and to its parked jobs. The
/// table refreshes itself every 2 s from <see cref="TablePath"/>, without reloading the page.
/// </summary>
internal sealed class ShardsPage : RazorPage
{
    public const string Path = "/offlinetasks/shards";

    /// <summary>The table alone, as an HTML fragment: what the page polls (<c>?shard=</c> for one shard's row).</summary>
    public const string TablePath = "/offlinetasks/shards/table";

    public override void Execute()
    {
        Layout = new LayoutPage("Shards");
        WriteLiteral("<div class=\"row\"><div class=\"col-md-12\"><h1 class=\"page-header\">Shards</h1>");
        if (GateBinding.For(Storage) is not { } binding)
        {
            WriteLiteral(NoGate);
        }
        else
        {
            WriteLiteral(LiveTable(Url.To(TablePath), ShardsTable.Render(binding, Storage, Url.To)));
            WriteLiteral($"<p><a href=\"{E(Url.To(ParkedJobsPage.Path))}\">All parked jobs</a> · <a href=\"{E(Url.To(EventsPage.Path))}\">Events</a> · <a href=\"{E(Url.To(AlertsPage.Path))}\">Alerts</a></p>");
        }

        WriteLiteral("</div></div>");
    }

    /// <summary>What a page shows when this process runs no gate for the dashboard's storage.</summary>
    public const string NoGate =
        "<div class=\"alert alert-warning\">This process runs no OfflineTasks gate for this storage (services.AddOfflineTasks is missing), so it cannot show the shards.</div>";

    /// <summary><paramref name="html"/> in a block that replaces itself every 2 s with what <paramref name="refreshUrl"/> returns.</summary>
    public static string LiveTable(string refreshUrl, string html) =>
        $"<div class=\"offlinetasks-live\" data-refresh=\"{E(refreshUrl)}\">{html}</div>" + """
        <script>
        (function () {
          var el = document.currentScript.previousElementSibling;
          if (!el || !window.fetch) { return; }
          setInterval(function () {
            fetch(el.getAttribute('data-refresh'), { credentials: 'same-origin', cache: 'no-store' })
              .then(function (r) { return r.ok ? r.text() : null; })
              .then(function (html) { if (html !== null) { el.innerHTML = html; } })
              .catch(function () { });
          }, 2000);
        })();
        </script>
        """;
}

/// <summary>Serves <see cref="ShardsTable"/> alone (<c>?shard=</c> for one shard), for the Shards and shard pages' refresh.</summary>
internal sealed class ShardsTableDispatcher : IDashboardDispatcher
{
    public async Task Dispatch(DashboardContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.ContentType = "text/html; charset=utf-8";
        var only = context.Request.GetQuery("shard");
        var html = GateBinding.For(context.Storage) is { } binding
            ? ShardsTable.Render(binding, context.Storage, new UrlHelper(context).To, string.IsNullOrEmpty(only) ? null : only)
            : ShardsPage.NoGate;
        await context.Response.WriteAsync(html).ConfigureAwait(false);
    }
}
