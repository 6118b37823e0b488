using Microsoft.Extensions.Options;

namespace OfflineTasks.Gate;

/// <summary>
/// Checks <see cref="GateOptions"/> at start: positive intervals, low-water below high-water, two masters per shard,
/// unique master names, passwords present in their environment variables. Each failure names the key and the value
/// (never a password).
/// </summary>
public sealed class GateOptionsValidator : IValidateOptions<GateOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, GateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var (_, errors) = GateSettings.Resolve(options, Environment.GetEnvironmentVariable);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
