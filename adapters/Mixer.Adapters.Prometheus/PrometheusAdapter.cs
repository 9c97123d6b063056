using System.Globalization;
using System.Text.Json;
using Mixer.Sdk.Adapters;

namespace Mixer.Adapters.Prometheus;

/// <summary>
/// The <c>prometheus</c> adapter (Istio 1.0 <c>adapter.prometheus.config.Params</c>): each
/// configured metric records the values of one metric instance in a prometheus-net counter,
/// gauge or histogram named <c>&lt;namespace&gt;_&lt;name&gt;</c> (namespace <c>istio</c> by default),
/// labelled by the instance's dimensions. Everything is served on the adapter's own endpoint,
/// <c>http://127.0.0.1:42422/metrics</c> (the port comes from the host setting
/// <see cref="PortSetting"/>; mixs: <c>--prometheusAdapterPort</c>), never on mixs's monitoring
/// registry. Recording is in memory and never waits on I/O, so there is no queue to overflow:
/// every instance is counted, or refused with a reason (and counted in
/// <c>mixer_adapter_dropped_total</c>).
/// </summary>
public sealed class PrometheusAdapter : IAdapter
{
    /// <summary>Istio's port for the adapter's endpoint.</summary>
    public const int DefaultPort = 42422;

    /// <summary>The host setting holding the endpoint's port.</summary>
    public const string PortSetting = "prometheus.port";

    private readonly MetricTable _table = new();
    private readonly ScrapeEndpoint _endpoint;

    /// <summary>An adapter with no metrics yet; the endpoint starts with the first handler.</summary>
    public PrometheusAdapter() => _endpoint = new ScrapeEndpoint(_table);

    /// <inheritdoc/>
    public AdapterInfo Info { get; } = new("prometheus", "Publishes prometheus metrics", ["metric"]);

    /// <summary>Where the endpoint listens (<c>127.0.0.1:PORT</c>), empty while no handler is open.</summary>
    public string EndpointAddress => _endpoint.Address;

    /// <inheritdoc/>
    public IReadOnlyList<ConfigProblem> Validate(JsonElement parameters)
    {
        var problems = new List<ConfigProblem>();
        if (AdapterParams.TryRead<PrometheusParams>(parameters, problems) is { } p)
        {
            Shapes.Resolve(p, problems);
        }

        return problems;
    }

    /// <inheritdoc/>
    public async ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var p = AdapterParams.Read<PrometheusParams>(context.Params);
        var problems = new List<ConfigProblem>();
        var shapes = Shapes.Resolve(p, problems);
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", problems.Select(x => $"{x.Field}: {x.Reason}")));
        }

        var port = context.Settings.TryGetValue(PortSetting, out var text) && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : DefaultPort;
        var families = _table.Acquire(context.HandlerName, shapes);
        try
        {
            await _endpoint.AcquireAsync(port, context.Logger, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _table.Release(context.HandlerName, families);
            throw;
        }

        return new PrometheusHandler(context, families, p.MetricsExpirationPolicy, () => Release(context.HandlerName, families));
    }

    private async ValueTask Release(string handler, IReadOnlyList<Family> families)
    {
        _table.Release(handler, families);
        await _endpoint.ReleaseAsync().ConfigureAwait(false);
    }
}
