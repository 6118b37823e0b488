using System.Data.Common;

namespace OfflineTasks.Gate.MySql;

/// <summary>
/// Creates status clients that run the status statements through any ADO.NET provider, for applications that
/// already use a managed MySQL driver: <c>new DbDataSourceStatusClientFactory(e =&gt; new MySqlDataSource(ConnectionStringFor(e)),
/// e =&gt; (e as MySqlException)?.Number)</c> with MySqlConnector. Each client keeps one connection from its data
/// source open between reads (closed after any error), bounds every step (open, each statement) by
/// <see cref="MySqlEndpoint.Timeout"/> and reads one at a time.
/// </summary>
public sealed class DbDataSourceStatusClientFactory : IMySqlStatusClientFactory
{
    private readonly Func<MySqlEndpoint, DbDataSource> _createDataSource;
    private readonly Func<DbException, int?> _errorNumber;

    /// <summary>Creates the factory.</summary>
    /// <param name="createDataSource">
    /// Returns a new data source for an endpoint; it must not open a connection yet. The client it is made for
    /// owns it and disposes it.
    /// </param>
    /// <param name="errorNumber">
    /// Reads the MySQL error number from a provider's exception (e.g. MySqlConnector's <c>MySqlException.Number</c>),
    /// which decides the <see cref="MySqlStatusFailure"/>. Default: <c>DbException.ErrorCode</c> when it
    /// looks like a MySQL error number (1 to 99999), else none, and then only <see cref="DbException.SqlState"/>
    /// is used (28000 access denied, 08xxx unreachable).
    /// </param>
    public DbDataSourceStatusClientFactory(Func<MySqlEndpoint, DbDataSource> createDataSource, Func<DbException, int?>? errorNumber = null)
    {
        ArgumentNullException.ThrowIfNull(createDataSource);
        _createDataSource = createDataSource;
        _errorNumber = errorNumber ?? DefaultErrorNumber;
    }

    /// <inheritdoc />
    public IMySqlStatusClient Create(MySqlEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var dataSource = _createDataSource(endpoint)
            ?? throw new InvalidOperationException($"The data source factory returned null for {endpoint}.");
        return new DbDataSourceStatusClient(endpoint, dataSource, _errorNumber);
    }

    private static int? DefaultErrorNumber(DbException exception) => exception.ErrorCode is > 0 and < 100_000 ? exception.ErrorCode : null;
}
