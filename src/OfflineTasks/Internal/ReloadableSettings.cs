using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace OfflineTasks.Internal;

/// <summary>
/// Settings resolved from an options section that follow configuration reloads: when the configuration changes
/// (appsettings.json saved, reloadOnChange), the section is bound and validated again; valid settings take effect
/// at once, invalid ones are rejected with every reason in the log and the previous settings stay.
/// </summary>
internal abstract class ReloadableSettings<TOptions, TSettings> : IDisposable
    where TOptions : class, new()
    where TSettings : class
{
    private readonly IConfiguration? _configuration;
    private readonly string _section;
    private readonly Action<TOptions>? _configure;
    private readonly Func<TOptions, (TSettings? Settings, IReadOnlyList<string> Errors)> _resolve;
    private readonly IDisposable? _subscription;
    private TSettings _current;

    /// <param name="options">The options bound at start.</param>
    /// <param name="configuration">The configuration to follow, or null for none.</param>
    /// <param name="section">The section's key.</param>
    /// <param name="configure">Applied after binding, as at start.</param>
    /// <param name="resolve">Resolves and validates options; null settings with the errors when invalid.</param>
    /// <param name="logger">Where reloads and rejections are logged.</param>
    protected ReloadableSettings(IOptions<TOptions> options, IConfiguration? configuration, string section, Action<TOptions>? configure,
        Func<TOptions, (TSettings? Settings, IReadOnlyList<string> Errors)> resolve, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _resolve = resolve;
        _configuration = configuration;
        _section = section;
        _configure = configure;
        Logger = logger;
        _current = Initial(options.Value);
        if (configuration is not null)
        {
            _subscription = ChangeToken.OnChange(configuration.GetReloadToken, () => Reload());
        }
    }

    /// <summary>The settings in force.</summary>
    public TSettings Current => Volatile.Read(ref _current);

    /// <summary>Raised after new settings took effect.</summary>
    public event Action<TSettings>? Changed;

    protected ILogger Logger { get; }

    /// <summary>Binds and validates the configuration again; applies it if valid. Returns the errors, empty when applied (or unchanged).</summary>
    public IReadOnlyList<string> Reload()
    {
        if (_configuration is null)
        {
            return [];
        }

        var options = new TOptions();
        try
        {
            _configuration.GetSection(_section).Bind(options);
            _configure?.Invoke(options);
        }
        catch (InvalidOperationException e)
        {
            Logger.LogError("{Section} configuration reload rejected, the previous settings stay in force: {Error}", _section, e.Message);
            return [e.Message];
        }

        var (settings, errors) = _resolve(options);
        if (settings is null)
        {
            Logger.LogError("{Section} configuration reload rejected, the previous settings stay in force: {Errors}", _section, string.Join(" ", errors));
            return errors;
        }

        if (Same(settings, Current))
        {
            return [];
        }

        Volatile.Write(ref _current, settings);
        Logger.LogInformation("{Section} configuration reloaded: {Settings}", _section, Describe(settings));
        Changed?.Invoke(settings);
        return [];
    }

    public void Dispose()
    {
        _subscription?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Whether two settings are the same in every way that matters.</summary>
    protected abstract bool Same(TSettings a, TSettings b);

    /// <summary>One line for the log (never a secret).</summary>
    protected abstract string Describe(TSettings settings);

    private TSettings Initial(TOptions options)
    {
        var (settings, errors) = _resolve(options);
        return settings ?? throw new OptionsValidationException(_section, typeof(TOptions), errors);
    }
}
