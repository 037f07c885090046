"""Publicación del distribuidor del sistema de enseñanza (reproducción).

Como el original: declara la cola durable y publica {"id","accion","datos"} en el exchange por
defecto, sin content_type ni cabeceras.
Uso: servidor_distribuidor.py AMQP_URL COLA ID:ACCION:DATOS_JSON ...
"""
import json
import sys

import pika


def publicar(canal, cola, tarea):
    canal.basic_publish(exchange="", routing_key=cola, body=json.dumps(tarea))


def main():
    url, cola = sys.argv[1], sys.argv[2]
    conexion = pika.BlockingConnection(pika.URLParameters(url))
    canal = conexion.channel()
    canal.queue_declare(queue=cola, durable=True)
    canal.confirm_delivery()
    for spec in sys.argv[3:]:
        id_tarea, accion, datos = spec.split(":", 2)
        publicar(canal, cola, {"id": id_tarea, "accion": accion, "datos": json.loads(datos)})
    conexion.close()


if __name__ == "__main__":
    main()
