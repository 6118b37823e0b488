using Microsoft.Extensions.Options;
using Npgsql;
using OfflineTasks.Storage;

namespace OfflineTasks.Hosting;

/// <summary>Checks <see cref="OfflineTasksOptions"/> at start; each failure names the configuration key and the bad value.</summary>
internal sealed class OfflineTasksOptionsValidator : IValidateOptions<OfflineTasksOptions>
{
    private const string Section = OfflineTasksOptions.SectionName;

    public ValidateOptionsResult Validate(string? name, OfflineTasksOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add($"{Section}:ConnectionString is empty: set it to the Npgsql connection string of the database for OfflineTasks' tables (e.g. \"Host=127.0.0.1;Port=5432;Username=app;Database=jobs\").");
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
                failures.Add($"{Section}:ConnectionString is not a valid Npgsql connection string: {e.Message}");
            }
        }

        try
        {
            OfflineTasksStore.ValidateSchema(options.Schema, $"{Section}:Schema =");
        }
        catch (ArgumentException)
        {
            failures.Add($"{Section}:Schema = '{options.Schema}' is invalid: use 1 to 40 lower-case letters, digits or '_', starting with a letter.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
