using System.Globalization;
using Microsoft.Extensions.Options;

namespace OfflineTasks.Host;

/// <summary>The worker executable's own settings, bound from <c>OfflineTasks:Host</c>, <c>OfflineTasks:Server</c> and <c>OfflineTasks:Hangfire</c>.</summary>
internal sealed class HostSettings
{
    /// <summary>Where the dashboard (<see cref="DashboardPath"/>) and <c>/metrics</c> are served. Default <c>http://127.0.0.1:5080</c>; port 0 picks a free one.</summary>
    public string Url { get; set; } = "http://127.0.0.1:5080";

    /// <summary>The Hangfire dashboard's path. Default <c>/hangfire</c>. It serves local requests only.</summary>
    public string DashboardPath { get; set; } = "/hangfire";
}

/// <summary>Hangfire's server in the worker executable (<c>OfflineTasks:Server</c>).</summary>
internal sealed class ServerSettings
{
    /// <summary>Hangfire workers in this process. 1 to 1000, default 10.</summary>
    public int WorkerCount { get; set; } = 10;

    /// <summary>The queues this process takes jobs from, in priority order. Default <c>["default"]</c> when empty.</summary>
    public IList<string> Queues { get; set; } = new List<string>();

    /// <summary>How long running jobs get to finish when the process stops. Default 30 s.</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the server moves due scheduled jobs to their queue. Default 5 s.</summary>
    public TimeSpan SchedulePollingInterval { get; set; } = TimeSpan.FromSeconds(5);

    public string[] EffectiveQueues => Queues.Count == 0 ? ["default"] : [.. Queues.Distinct(StringComparer.Ordinal)];
}

/// <summary>Hangfire.PostgreSql in the worker executable (<c>OfflineTasks:Hangfire</c>); the rest of its options are chosen for offline jobs.</summary>
internal sealed class HangfireStorageSettings
{
    /// <summary>Hangfire's schema, beside OfflineTasks' own. Default <c>hangfire</c>.</summary>
    public string Schema { get; set; } = "hangfire";

    /// <summary>How soon a killed worker's job is fetched again. Default 1 min.</summary>
    public TimeSpan InvisibilityTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often idle workers look for jobs enqueued by other processes. Default 200 ms.</summary>
    public TimeSpan QueuePollInterval { get; set; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>Checks the executable's settings at start; each failure names the key and the value.</summary>
internal sealed class HostSettingsValidator(IOptions<ServerSettings> server, IOptions<HangfireStorageSettings> storage, IOptions<Hosting.OfflineTasksOptions> offlineTasks)
    : IValidateOptions<HostSettings>
{
    public ValidateOptionsResult Validate(string? name, HostSettings options)
    {
        var errors = new List<string>();
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            errors.Add($"OfflineTasks:Host:Url = {options.Url} is invalid: it must be an absolute http URL (e.g. \"http://127.0.0.1:5080\").");
        }

        if (!options.DashboardPath.StartsWith('/') || options.DashboardPath.Length < 2)
        {
            errors.Add($"OfflineTasks:Host:DashboardPath = {options.DashboardPath} is invalid: it must start with '/' (e.g. \"/hangfire\").");
        }

        var s = server.Value;
        if (s.WorkerCount is < 1 or > 1000)
        {
            errors.Add($"OfflineTasks:Server:WorkerCount = {s.WorkerCount} is invalid: it must be between 1 and 1000.");
        }

        for (var i = 0; i < s.Queues.Count; i++)
        {
            if (string.IsNullOrEmpty(s.Queues[i]) || !s.Queues[i].All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-'))
            {
                errors.Add($"OfflineTasks:Server:Queues:{i} = '{s.Queues[i]}' is invalid: a Hangfire queue name has lower-case letters, digits, '_' and '-' only.");
            }
        }

        if (s.ShutdownTimeout <= TimeSpan.Zero)
        {
            errors.Add($"OfflineTasks:Server:ShutdownTimeout = {s.ShutdownTimeout} is invalid: it must be a positive duration.");
        }

        if (s.SchedulePollingInterval < TimeSpan.FromMilliseconds(100))
        {
            errors.Add($"OfflineTasks:Server:SchedulePollingInterval = {s.SchedulePollingInterval} is invalid: it must be at least 00:00:00.1.");
        }

        var h = storage.Value;
        if (string.IsNullOrEmpty(h.Schema) || !h.Schema.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_') || char.IsAsciiDigit(h.Schema[0]))
        {
            errors.Add($"OfflineTasks:Hangfire:Schema = '{h.Schema}' is invalid: use lower-case letters, digits or '_', starting with a letter.");
        }
        else if (h.Schema == offlineTasks.Value.Schema)
        {
            errors.Add($"OfflineTasks:Hangfire:Schema = '{h.Schema}' is invalid: it must differ from OfflineTasks:Schema, which holds OfflineTasks' own tables.");
        }

        if (h.InvisibilityTimeout < TimeSpan.FromSeconds(5))
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"OfflineTasks:Hangfire:InvisibilityTimeout = {h.InvisibilityTimeout} is invalid: it must be at least 00:00:05 (the job's mark is refreshed every fifth of it)."));
        }

        if (h.QueuePollInterval < TimeSpan.FromMilliseconds(50))
        {
            errors.Add($"OfflineTasks:Hangfire:QueuePollInterval = {h.QueuePollInterval} is invalid: Hangfire.PostgreSql needs at least 00:00:00.05.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
