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
            AddDashboard();
            configuration.UseJobDetailsRenderer(ParkedJobPanel.Order, ParkedJobPanel.Render);
            JobHistoryRenderer.AddStateCssSuffix(ParkedState.StateName, "info");
            JobHistoryRenderer.Register(ParkedState.StateName, RenderParked);
            _installed = true;
        }

        return configuration;
    }

    /// <summary>
    /// OfflineTasks' dashboard pages: Shards (in the navigation bar), each shard's page with its switch, the parked jobs
    /// (in the jobs' sidebar), the alerts and the event stream.
    /// </summary>
    private static void AddDashboard()
    {
        var routes = DashboardRoutes.Routes;
        routes.AddRazorPage(ShardsPage.Path, _ => new ShardsPage());
        routes.Add(ShardsPage.TablePath, new ShardsTableDispatcher());
        routes.Add(SwitchCommand.PathTemplate, new SwitchCommand());
        routes.AddRazorPage(ShardPage.PathTemplate, _ => new ShardPage());
        routes.AddRazorPage(ParkedJobsPage.PathTemplate, _ => new ParkedJobsPage());
        routes.AddRazorPage(AlertsPage.Path, _ => new AlertsPage());
        routes.Add(EventsPage.JsonPath, new EventsJsonDispatcher());
        routes.AddRazorPage(EventsPage.Path, _ => new EventsPage());
        NavigationMenu.Items.Add(page => new MenuItem("Shards", page.Url.To(ShardsPage.Path))
        {
            Active = page.RequestPath.StartsWith(ShardsPage.Path, StringComparison.OrdinalIgnoreCase)
                     || page.RequestPath.StartsWith("/offlinetasks/shard/", StringComparison.OrdinalIgnoreCase),
        });
        NavigationMenu.Items.Add(page => new MenuItem("Alerts", page.Url.To(AlertsPage.Path))
        {
            Active = page.RequestPath.StartsWith(AlertsPage.Path, StringComparison.OrdinalIgnoreCase),
        });
        NavigationMenu.Items.Add(page => new MenuItem("Events", page.Url.To(EventsPage.Path))
        {
            Active = page.RequestPath.StartsWith(EventsPage.Path, StringComparison.OrdinalIgnoreCase),
        });
        DashboardMetrics.AddMetric(ParkedMetric);
        JobsSidebarMenu.Items.Add(page => new MenuItem("Parked", page.Url.To(ParkedJobsPage.Path))
        {
            Active = page.RequestPath.StartsWith(ParkedJobsPage.Path, StringComparison.OrdinalIgnoreCase),
            Metric = ParkedMetric,
        });
    }

    /// <summary>How many jobs are parked, over all shards, for the jobs' sidebar.</summary>
    private static readonly DashboardMetric ParkedMetric = new("offlinetasks:parked", "Parked", page =>
    {
        if (GateBinding.For(page.Storage) is not { } binding)
        {
            return new Metric(0);
        }

        using var connection = page.Storage.GetConnection();
        var count = binding.Gate.Settings.Shards.Keys.Sum(shard => ShardsTable.Parked(connection, shard));
        return new Metric(count) { Style = count > 0 ? MetricStyle.Info : MetricStyle.Default };
    });

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
