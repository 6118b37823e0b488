using Microsoft.Extensions.Options;
using Npgsql;

namespace OfflineTasks.Storage;

/// <summary>Checks <see cref="PostgresStorageOptions"/> at start; each failure names the configuration key and the bad value.</summary>
public sealed class PostgresStorageOptionsValidator : IValidateOptions<PostgresStorageOptions>
{
    /// <summary>The configuration section the storage options are bound from.</summary>
    public const string SectionName = "OfflineTasks";

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, PostgresStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add($"{SectionName}:ConnectionString is empty: set it to the Npgsql connection string of the job database (e.g. \"Host=127.0.0.1;Port=5432;Username=app;Database=jobs\").");
        }
        else
        {
            try
            {
                _ = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            }
            catch (ArgumentException e)
            {
                // The value may hold a password: name the problem, not the whole value.
                failures.Add($"{SectionName}:ConnectionString is not a valid Npgsql connection string: {e.Message}");
            }
        }

        try
        {
            PostgresJobStorage.ValidateSchema(options.Schema, $"{SectionName}:Schema =");
        }
        catch (ArgumentException)
        {
            failures.Add($"{SectionName}:Schema = '{options.Schema}' is invalid: use 1 to 40 lower-case letters, digits or '_', starting with a letter.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
