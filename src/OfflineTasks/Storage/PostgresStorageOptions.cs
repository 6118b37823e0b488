namespace OfflineTasks.Storage;

/// <summary>Where the job tables live. Bound from the <c>OfflineTasks</c> configuration section.</summary>
public sealed class PostgresStorageOptions
{
    /// <summary>The default schema, <c>"offlinetasks"</c>.</summary>
    public const string DefaultSchema = "offlinetasks";

    /// <summary>Npgsql connection string of the PostgreSQL database holding the jobs. Required.</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>
    /// Schema of the job tables: lower-case letters, digits and <c>_</c>, starting with a letter, at most 40
    /// characters. Several independent queues can share a database under different schemas. Default <c>"offlinetasks"</c>.
    /// </summary>
    public string Schema { get; set; } = DefaultSchema;

    /// <summary>Apply pending migrations when a worker server starts. Default <c>true</c>; turn it off to run <c>migrate</c> as a deploy step instead.</summary>
    public bool MigrateOnStart { get; set; } = true;
}
