using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using Hangfire.Common;

namespace OfflineTasks.Hangfire;

/// <summary>
/// Marks the MySQL shard a job works on, as a format over the job method's arguments, like Hangfire's own
/// <c>[Queue("...")]</c> and <c>[DisableConcurrentExecution]</c> resource formats: <c>[Shard("users-{0}")]</c> on
/// <c>Reindex(long userId)</c> puts <c>Reindex(2)</c> on shard <c>users-2</c>. Put it on the method (of the interface
/// or class the job is enqueued with) or on the type for all its methods. The shard is worked out in memory, from the
/// job's arguments, whenever the gate looks at the job: no database read. A job without a shard runs ungated.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class | AttributeTargets.Interface, AllowMultiple = false, Inherited = true)]
public sealed class ShardAttribute : Attribute
{
    private static readonly ConcurrentDictionary<(Type Type, MethodInfo Method), ShardAttribute?> Cache = new();

    /// <summary>Marks the job's shard.</summary>
    /// <param name="format">A composite format string over the method's arguments, e.g. <c>"users-{0}"</c>; formatted with the invariant culture.</param>
    public ShardAttribute(string format)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(format);
        Format = format;
    }

    /// <summary>The format of the shard's name over the method's arguments.</summary>
    public string Format { get; }

    /// <summary>
    /// Whether the job is light: it may run while its shard's master pair is degraded but not loaded, when the shard is
    /// configured with <c>WhenDegraded = OpenForLightJobs</c>. Default false.
    /// </summary>
    public bool Light { get; set; }

    /// <summary>The shard of <paramref name="job"/> with the arguments it was enqueued with.</summary>
    /// <exception cref="FormatException">The format does not fit the method's arguments (e.g. <c>{1}</c> of a one-argument method).</exception>
    public string ShardOf(Job job)
    {
        ArgumentNullException.ThrowIfNull(job);
        try
        {
            return string.Format(CultureInfo.InvariantCulture, Format, [.. job.Args]);
        }
        catch (FormatException e)
        {
            throw new FormatException(
                $"[Shard(\"{Format}\")] on {job.Type.Name}.{job.Method.Name} cannot be applied to its {job.Args.Count} argument(s): {e.Message}", e);
        }
    }

    /// <summary>The <see cref="ShardAttribute"/> of a job's method, else of its type, else none.</summary>
    internal static ShardAttribute? Of(Job job) =>
        Cache.GetOrAdd((job.Type, job.Method), static key =>
            key.Method.GetCustomAttribute<ShardAttribute>(inherit: true)
            ?? key.Type.GetCustomAttribute<ShardAttribute>(inherit: true)
            ?? key.Method.DeclaringType?.GetCustomAttribute<ShardAttribute>(inherit: true));
}
