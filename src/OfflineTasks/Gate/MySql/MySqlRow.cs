namespace OfflineTasks.Gate.MySql;

/// <summary>One row of a result as text: column name → value (null for SQL NULL). Names compare case-insensitively.</summary>
internal sealed class MySqlRow
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase);

    public MySqlRow(IReadOnlyList<string> columns, IReadOnlyList<string?> values)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(values.Count, columns.Count, nameof(values));
        for (var i = 0; i < columns.Count; i++)
        {
            _values.TryAdd(columns[i], values[i]);
        }
    }

    public MySqlRow(params (string Column, string? Value)[] values)
    {
        foreach (var (column, value) in values)
        {
            _values.TryAdd(column, value);
        }
    }

    public IEnumerable<string> Columns => _values.Keys;

    public bool TryGetValue(string column, out string? value) => _values.TryGetValue(column, out value);

    public override string ToString() => string.Join(", ", _values.Select(v => $"{v.Key}={v.Value ?? "NULL"}"));
}
