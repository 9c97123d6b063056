using System.Text.Json;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mixer.Adapters.Tests;

/// <summary>Builds handlers the way the runtime does: from params JSON through the adapter.</summary>
internal static class Build
{
    public static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    public static async Task<THandler> HandlerAsync<THandler>(
        IAdapter adapter,
        string paramsJson,
        TimeProvider? time = null,
        string handlerName = "h.handler.istio-system",
        IReadOnlyDictionary<string, string>? instances = null,
        IAdapterMetrics? metrics = null,
        IReadOnlyDictionary<string, string>? settings = null)
        where THandler : IHandler
    {
        var json = Json(paramsJson);
        var problems = adapter.Validate(json);
        problems.ShouldBeEmpty(string.Join("; ", problems.Select(p => $"{p.Field}: {p.Reason}")));
        var handler = await adapter.BuildAsync(
            new HandlerContext
            {
                HandlerName = handlerName,
                Params = json,
                Instances = instances ?? new Dictionary<string, string>(),
                Logger = NullLogger.Instance,
                Time = time ?? TimeProvider.System,
                Metrics = metrics ?? AdapterMetrics.None,
                Settings = settings ?? new Dictionary<string, string>(),
            },
            CancellationToken.None);
        return handler.ShouldBeAssignableTo<THandler>()!;
    }

    public static IReadOnlyList<string> Problems(IAdapter adapter, string paramsJson) =>
        adapter.Validate(Json(paramsJson)).Select(p => $"{p.Field}: {p.Reason}").ToList();

    public static QuotaInstance Quota(string name, params (string Key, string Value)[] dimensions) => new()
    {
        Name = name,
        Dimensions = dimensions.ToDictionary(d => d.Key, d => AttributeValue.String(d.Value)),
    };
}
