namespace Mixer.Sdk.Adapters;

/// <summary>
/// How a <see cref="IMetricBatchHandler"/> wants the instances of one metric instance config: a
/// number of its own choosing, handed back with every row, and the dimensions it reads, in the
/// order it wants them.
/// </summary>
/// <param name="Id">The handler's number for the metric (e.g. an index into its own table); any value but -1.</param>
/// <param name="Dimensions">Dimension names in the order <see cref="MetricBatch.Dimensions(int)"/> gives their values.</param>
public sealed record MetricLayout(int Id, IReadOnlyList<string> Dimensions);

/// <summary>
/// The <c>metric</c> instances of one report for one handler, as rows: for each, the metric's
/// <see cref="MetricLayout.Id"/>, the instance name, its value, and the dimensions the handler asked
/// for in its layout order. Filling it allocates nothing per row once its storage has grown, so a
/// report of thousands of instances costs no garbage.
/// </summary>
/// <remarks>
/// A batch handed to <see cref="IMetricBatchHandler.HandleMetricBatchAsync"/> is reused for later
/// reports once the returned task completes: read it during the call and copy what you keep.
/// </remarks>
public sealed class MetricBatch
{
    private const int RetainedRows = 1 << 16;

    private Row[] _rows = new Row[16];
    private AttributeValue[] _dimensions = new AttributeValue[64];
    private int _count;
    private int _dimensionCount;

    /// <summary>Number of rows.</summary>
    public int Count => _count;

    /// <summary>The <see cref="MetricLayout.Id"/> of row <paramref name="row"/>'s metric, or -1 when the handler gave no layout for its instance.</summary>
    public int MetricId(int row) => RowAt(row).Metric;

    /// <summary>The fully qualified instance name of row <paramref name="row"/> (e.g. <c>requestcount.metric.istio-system</c>).</summary>
    public string InstanceName(int row) => RowAt(row).Name;

    /// <summary>The value of row <paramref name="row"/>.</summary>
    public AttributeValue Value(int row) => RowAt(row).Value;

    /// <summary>
    /// The dimension values of row <paramref name="row"/>, in its layout's order; an empty
    /// <see cref="AttributeValue"/> (<see cref="AttributeValue.IsEmpty"/>) for a dimension the
    /// instance does not set. Empty when the row has no layout.
    /// </summary>
    public ReadOnlySpan<AttributeValue> Dimensions(int row)
    {
        ref readonly var r = ref RowAt(row);
        return new ReadOnlySpan<AttributeValue>(_dimensions, r.DimensionStart, r.DimensionCount);
    }

    /// <summary>Adds a row; <paramref name="dimensions"/> is copied.</summary>
    /// <param name="metricId">The layout's id, or -1 when there is none.</param>
    /// <param name="instanceName">The fully qualified instance name.</param>
    /// <param name="value">The instance's value.</param>
    /// <param name="dimensions">Dimension values in layout order.</param>
    public void Add(int metricId, string instanceName, AttributeValue value, ReadOnlySpan<AttributeValue> dimensions)
    {
        ArgumentNullException.ThrowIfNull(instanceName);
        if (_count == _rows.Length)
        {
            Array.Resize(ref _rows, _rows.Length * 2);
        }

        if (_dimensionCount + dimensions.Length > _dimensions.Length)
        {
            Array.Resize(ref _dimensions, Math.Max(_dimensions.Length * 2, _dimensionCount + dimensions.Length));
        }

        dimensions.CopyTo(_dimensions.AsSpan(_dimensionCount));
        _rows[_count++] = new Row(metricId, instanceName, value, _dimensionCount, dimensions.Length);
        _dimensionCount += dimensions.Length;
    }

    /// <summary>Empties the batch for reuse (storage is kept, up to a bound).</summary>
    public void Clear()
    {
        // Drop references so a reused batch does not keep strings or maps of old reports alive.
        Array.Clear(_rows, 0, _count);
        Array.Clear(_dimensions, 0, _dimensionCount);
        if (_rows.Length > RetainedRows)
        {
            _rows = new Row[16];
        }

        if (_dimensions.Length > RetainedRows * 4)
        {
            _dimensions = new AttributeValue[64];
        }

        _count = 0;
        _dimensionCount = 0;
    }

    private ref readonly Row RowAt(int row)
    {
        if ((uint)row >= (uint)_count)
        {
            throw new ArgumentOutOfRangeException(nameof(row), row, $"the batch has {_count} rows");
        }

        return ref _rows[row];
    }

    private readonly record struct Row(int Metric, string Name, AttributeValue Value, int DimensionStart, int DimensionCount);
}
