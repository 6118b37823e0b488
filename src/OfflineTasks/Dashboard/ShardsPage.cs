using Hangfire.Dashboard;
using Hangfire.Dashboard.Pages;
using OfflineTasks.Hangfire;

namespace OfflineTasks.Dashboard;

/// <summary>
/// The dashboard's Shards page (<c>/offlinetasks/shards</c>, in the navigation bar): every shard's mode and why, and
/// each master's signals (<see cref="ShardsTable"/>). The table refreshes itself every 2 s from
/// <see cref="TablePath"/>, without reloading the page.
/// </summary>
internal sealed class ShardsPage : RazorPage
{
    public const string Path = "/offlinetasks/shards";

    /// <summary>The table alone, as an HTML fragment: what the page polls.</summary>
    public const string TablePath = "/offlinetasks/shards/table";

    public override void Execute()
    {
        Layout = new LayoutPage("Shards");
        WriteLiteral("<div class=\"row\"><div class=\"col-md-12\"><h1 class=\"page-header\">Shards</h1>");
        if (GateBinding.For(Storage) is not { } binding)
        {
            WriteLiteral("<div class=\"alert alert-warning\">This process runs no OfflineTasks gate for this storage (services.AddOfflineTasks is missing), so it cannot show the shards.</div>");
        }
        else
        {
            WriteLiteral($"<div id=\"offlinetasks-shards\" data-refresh=\"{Html.HtmlEncode(Url.To(TablePath))}\">");
            WriteLiteral(ShardsTable.Render(binding, Storage));
            WriteLiteral("</div>");
            WriteLiteral("""
                <script>
                (function () {
                  var el = document.getElementById('offlinetasks-shards');
                  if (!el) { return; }
                  setInterval(function () {
                    fetch(el.getAttribute('data-refresh'), { credentials: 'same-origin', cache: 'no-store' })
                      .then(function (r) { return r.ok ? r.text() : null; })
                      .then(function (html) { if (html !== null) { el.innerHTML = html; } })
                      .catch(function () { });
                  }, 2000);
                })();
                </script>
                """);
        }

        WriteLiteral("</div></div>");
    }
}

/// <summary>Serves <see cref="ShardsTable"/> alone, for the Shards page's refresh.</summary>
internal sealed class ShardsTableDispatcher : IDashboardDispatcher
{
    public async Task Dispatch(DashboardContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        context.Response.ContentType = "text/html; charset=utf-8";
        var html = GateBinding.For(context.Storage) is { } binding
            ? ShardsTable.Render(binding, context.Storage)
            : "<div class=\"alert alert-warning\">This process runs no OfflineTasks gate for this storage.</div>";
        await context.Response.WriteAsync(html).ConfigureAwait(false);
    }
}
