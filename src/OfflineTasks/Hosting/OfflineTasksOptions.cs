namespace OfflineTasks.Hosting;

/// <summary>
/// Where OfflineTasks keeps its own tables (shard states and events, fleet-wide roles, the telemetry sample): a schema
/// of its own in a PostgreSQL database, usually the one Hangfire's storage uses. Bound from the <c>OfflineTasks</c>
/// configuration section and validated at start.
/// </summary>
public sealed class OfflineTasksOptions
{
    /// <summary>The configuration section these options are bound from.</summary>
    public const string SectionName = "OfflineTasks";

    /// <summary>The default schema, <c>"offlinetasks"</c>.</summary>
    public const string DefaultSchema = "offlinetasks";

    /// <summary>Npgsql connection string of the PostgreSQL database for OfflineTasks' tables (usually Hangfire's database). Required.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// Schema of OfflineTasks' tables: lower-case letters, digits and <c>_</c>, starting with a letter, at most 40
    /// characters; it must differ from Hangfire's schema. Default <c>"offlinetasks"</c>.
    /// </summary>
    public string Schema { get; set; } = DefaultSchema;

    /// <summary>Apply pending migrations of OfflineTasks' tables when the host starts. Default <c>true</c>.</summary>
    public bool MigrateOnStart { get; set; } = true;
}
