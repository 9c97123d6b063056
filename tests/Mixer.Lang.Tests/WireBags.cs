using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Istio.Mixer.V1;
using Mixer.Sdk;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Lang.Tests;

/// <summary>Encodes attributes as a proxy would (global words where they exist) and decodes them as the server does.</summary>
internal static class WireBags
{
    public static ProtoBag From(IEnumerable<KeyValuePair<string, AttributeValue>> attributes)
    {
        var attrs = new CompressedAttributes();
        var words = new List<string>();
        int W(string s)
        {
            var g = GlobalDictionary.IndexOf(s);
            if (g >= 0)
            {
                return g;
            }

            var i = words.IndexOf(s);
            if (i < 0)
            {
                words.Add(s);
                i = words.Count - 1;
            }

            return -1 - i;
        }

        foreach (var (name, v) in attributes)
        {
            var n = W(name);
            switch (v.Type)
            {
                case var t when t.IsStringLike():
                    attrs.Strings[n] = W(v.AsString);
                    break;
                case ValueType.Int64:
                    attrs.Int64S[n] = v.AsInt64;
                    break;
                case ValueType.Double:
                    attrs.Doubles[n] = v.AsDouble;
                    break;
                case ValueType.Bool:
                    attrs.Bools[n] = v.AsBool;
                    break;
                case ValueType.Duration:
                    attrs.Durations[n] = Duration.FromTimeSpan(TimeSpan.FromTicks(v.AsDurationNanos / 100));
                    break;
                case ValueType.Timestamp:
                    attrs.Timestamps[n] = new Timestamp { Seconds = v.TimestampSeconds, Nanos = v.TimestampNanos };
                    break;
                case ValueType.IpAddress or ValueType.Bytes:
                    attrs.Bytes[n] = ByteString.CopyFrom(v.AsBytes);
                    break;
                case ValueType.StringMap:
                    var map = new Istio.Mixer.V1.StringMap();
                    foreach (var (k, s) in v.AsStringMap)
                    {
                        map.Entries[W(k)] = W(s);
                    }

                    attrs.StringMaps[n] = map;
                    break;
            }
        }

        attrs.Words.AddRange(words);
        return ProtoBag.TryCreate(attrs, (uint)GlobalDictionary.Words.Count, null, null, out var bag, out var error)
            ? bag
            : throw new InvalidOperationException(error);
    }
}
