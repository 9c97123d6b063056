using Google.Protobuf;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Istio.Mixer.V1;

namespace Mixer.Server.Api;

/// <summary>
/// Binds /istio.mixer.v1.Mixer/Check and /Report with our own marshallers. grpc-dotnet reports a
/// body that does not parse as a bare UNKNOWN; a client deserves INVALID_ARGUMENT and the parser's
/// reason, so the request parser raises that itself.
/// </summary>
internal sealed class MixerMethods : IServiceMethodProvider<MixerService>
{
    private const string ServiceName = "istio.mixer.v1.Mixer";

    // Both are read by hand: attributes stay bytes until the bag (Check) or the batch (Report) decodes them.
    public static readonly Method<CheckCall, CheckResponse> Check = new(
        MethodType.Unary, ServiceName, "Check", CheckMarshaller(), ResponseMarshaller<CheckResponse>());

    public static readonly Method<ReportCall, ReportResponse> Report = new(
        MethodType.Unary, ServiceName, "Report", Marshallers.Create<ReportCall>(
            static (_, _) => throw new NotSupportedException("the server never writes requests"),
            static context => ReportCall.Read(context)),
        ResponseMarshaller<ReportResponse>());

    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<MixerService> context)
    {
        context.AddUnaryMethod(Check, [], static (service, request, call) => service.Check(request, call));
        context.AddUnaryMethod(Report, [], static (service, request, call) => service.Report(request, call));
    }

    private static Marshaller<CheckCall> CheckMarshaller() =>
        Marshallers.Create<CheckCall>(
            static (_, _) => throw new NotSupportedException("the server never writes requests"),
            static context =>
            {
                try
                {
                    return CheckCall.Parse(context);
                }
                catch (RpcException)
                {
                    MetricsInterceptor.CountRejected($"/{ServiceName}/Check", StatusCode.InvalidArgument);
                    throw;
                }
            });

    private static Marshaller<T> ResponseMarshaller<T>()
        where T : IMessage<T>, new() =>
        Marshallers.Create<T>(
            static (message, context) => Serialize(message, context),
            static context => throw new NotSupportedException("the server never reads its own responses"));

    private static void Serialize<T>(T message, SerializationContext context)
        where T : IMessage<T>
    {
        context.SetPayloadLength(message.CalculateSize());
        message.WriteTo(context.GetBufferWriter());
        context.Complete();
    }
}
