using System.Globalization;
using Hangfire;
using Hangfire.Dashboard;
using Hangfire.States;
using OfflineTasks.Dashboard;

namespace OfflineTasks.Hangfire;

/// <summary>Installs OfflineTasks into Hangfire's configuration.</summary>
public static class OfflineTasksGlobalConfigurationExtensions
{
    private static readonly Lock Installing = new();
    private static bool _installed;

    /// <summary>
    /// Installs the load-feedback gate into Hangfire: the <see cref="ParkedState"/> and its handler (which keeps parked
    /// jobs in their shard's set), the election filters that park jobs of closed shards (at creation, on enqueue, on
    /// their way to Processing, and at a job's own checkpoints) and reject jobs for unknown shards, the filter that keeps
    /// other changes of a parked job (an operator's requeue or delete) apart from the releaser's batches, the job metrics
    /// filter, and how the dashboard shows a Parked state in a job's history. Call it in <c>services.AddHangfire(c =&gt;
    /// c.UsePostgreSqlStorage(...).UseOfflineTasks())</c> and add <c>services.AddOfflineTasks(configuration)</c>, which
    /// runs the gate these filters consult. Like Hangfire's own filters these are process-wide; installing twice is harmless.
    /// </summary>
    public static IGlobalConfiguration UseOfflineTasks(this IGlobalConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        lock (Installing)
        {
            if (_installed)
            {
                return configuration;
            }

            GlobalStateHandlers.Handlers.Add(new ParkedState.Handler());
            GlobalJobFilters.Filters.Add(new ParkedChangeFilter(), ParkedChangeFilter.Order);
            GlobalJobFilters.Filters.Add(new ShardCheckpointFilter(), ShardCheckpointFilter.Order);
            GlobalJobFilters.Filters.Add(new ShardElectionFilter(), ShardElectionFilter.Order);
            GlobalJobFilters.Filters.Add(new JobMetricsFilter());
            DashboardRoutes.Routes.AddRazorPage(ShardsPage.Path, _ => new ShardsPage());
            DashboardRoutes.Routes.Add(ShardsPage.TablePath, new ShardsTableDispatcher());
            NavigationMenu.Items.Add(page => new MenuItem("Shards", page.Url.To(ShardsPage.Path))
            {
                Active = page.RequestPath.StartsWith(ShardsPage.Path, StringComparison.OrdinalIgnoreCase),
            });
            configuration.UseJobDetailsRenderer(ParkedJobPanel.Order, ParkedJobPanel.Render);
            JobHistoryRenderer.AddStateCssSuffix(ParkedState.StateName, "info");
            JobHistoryRenderer.Register(ParkedState.StateName, RenderParked);
            _installed = true;
        }

        return configuration;
    }

    /// <summary>Whether <see cref="UseOfflineTasks"/> has run in this process.</summary>
    internal static bool Installed
    {
        get
        {
            lock (Installing)
            {
                return _installed;
            }
        }
    }

    private static NonEscapedString RenderParked(HtmlHelper html, IDictionary<string, string> data)
    {
        string Value(string key) => data.TryGetValue(key, out var v) ? v : "";
        var first = Value("FirstParkedAt");
        var rows = new List<(string, string)>
        {
            ("Shard", html.HtmlEncode(Value("Shard")) + (Value("Light") == "true" ? " (light job)" : "")),
            ("Queue", html.HtmlEncode(Value("Queue"))),
            ("Parked", html.HtmlEncode(Value("ParkCount")) + " time(s)"
                + (first.Length > 0 ? ", first " + html.LocalTime(global::Hangfire.Common.JobHelper.DeserializeDateTime(first)).ToString() : "")),
            ("Reason kind", html.HtmlEncode(Value("ReasonKind"))),
        };
        if (Value("DeadlinePassed") == "true")
        {
            rows.Add(("Deadline", "<strong>passed</strong>"));
        }

        var body = string.Concat(rows.Select(r => string.Create(CultureInfo.InvariantCulture, $"<dt>{r.Item1}:</dt><dd>{r.Item2}</dd>")));
        return new NonEscapedString($"<dl class=\"dl-horizontal\">{body}</dl>");
    }
}
