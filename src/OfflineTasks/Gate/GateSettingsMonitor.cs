using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace OfflineTasks.Gate;

/// <summary>
/// The gate's current settings. When the configuration reloads (appsettings.json saved, reloadOnChange), the
/// <c>OfflineTasks:Gate</c> section is bound and validated again: valid settings take effect at once; invalid ones
/// are rejected with every reason in the log, and the previous settings stay.
/// </summary>
internal sealed class GateSettingsMonitor : IDisposable
{
    private readonly IConfiguration? _configuration;
    private readonly Action<GateOptions>? _configure;
    private readonly Func<string, string?> _environment;
    private readonly ILogger _logger;
    private readonly IDisposable? _subscription;
    private GateSettings _current;

    public GateSettingsMonitor(IOptions<GateOptions> options, IConfiguration? configuration, Action<GateOptions>? configure, ILogger<GateSettingsMonitor> logger,
        Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _configuration = configuration;
        _configure = configure;
        _environment = environment ?? Environment.GetEnvironmentVariable;
        _logger = logger;
        var (settings, errors) = GateSettings.Resolve(options.Value, _environment);
        _current = settings ?? throw new OptionsValidationException(GateOptions.SectionName, typeof(GateOptions), errors);
        if (configuration is not null)
        {
            _subscription = ChangeToken.OnChange(configuration.GetReloadToken, () => Reload());
        }
    }

    /// <summary>The settings in force.</summary>
    public GateSettings Current => Volatile.Read(ref _current);

    /// <summary>Raised after new settings took effect.</summary>
    public event Action<GateSettings>? Changed;

    /// <summary>Binds and validates the configuration again; applies it if valid. Returns the errors, empty when applied.</summary>
    public IReadOnlyList<string> Reload()
    {
        if (_configuration is null)
        {
            return [];
        }

        var options = new GateOptions();
        try
        {
            _configuration.GetSection(GateOptions.SectionName).Bind(options);
            _configure?.Invoke(options);
        }
        catch (InvalidOperationException e)
        {
            _logger.LogError("Gate configuration reload rejected, the previous settings stay in force: {Error}", e.Message);
            return [e.Message];
        }

        var (settings, errors) = GateSettings.Resolve(options, _environment);
        if (settings is null)
        {
            _logger.LogError("Gate configuration reload rejected, the previous settings stay in force: {Errors}", string.Join(" ", errors));
            return errors;
        }

        if (SameAs(settings, Current))
        {
            return [];
        }

        Volatile.Write(ref _current, settings);
        _logger.LogInformation("Gate configuration reloaded: probe every {Interval}, timeout {Timeout}, {Shards} shards ({Names})",
            settings.ProbeInterval, settings.ProbeTimeout, settings.Shards.Count, string.Join(", ", settings.Shards.Keys));
        Changed?.Invoke(settings);
        return [];
    }

    public void Dispose() => _subscription?.Dispose();

    // Records compare their lists by reference; compare what matters by value.
    private static bool SameAs(GateSettings a, GateSettings b) =>
        a.ProbeInterval == b.ProbeInterval && a.ProbeTimeout == b.ProbeTimeout && a.LeaderLease == b.LeaderLease && a.StaleAfter == b.StaleAfter
        && a.Deferral == b.Deferral && a.Ramp == b.Ramp && a.Shards.Count == b.Shards.Count
        && a.Shards.All(s => b.Shards.TryGetValue(s.Key, out var other) && s.Value.Thresholds == other.Thresholds && s.Value.HoldTime == other.HoldTime
            && s.Value.WhenDegraded == other.WhenDegraded && s.Value.Masters.SequenceEqual(other.Masters));
}
