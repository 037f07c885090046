"""Worker del sistema de enseñanza (reproducción).

Como el original: queue_declare(queue=COLA, durable=True) sin argumentos, basic_qos(1),
basic_consume con ack manual, lee el "id" del cuerpo JSON. Imprime "id accion" de cada tarea y
termina tras N tareas.
Uso: servidor_worker.py AMQP_URL COLA N
"""
import json
import sys

import pika


def main():
    url, cola, total = sys.argv[1], sys.argv[2], int(sys.argv[3])
    conexion = pika.BlockingConnection(pika.URLParameters(url))
    canal = conexion.channel()
    canal.queue_declare(queue=cola, durable=True)
    canal.basic_qos(prefetch_count=1)
    vistas = []

    def callback(ch, method, properties, body):
        tarea = json.loads(body)
        print(tarea["id"], tarea.get("accion", tarea.get("type")), flush=True)
        ch.basic_ack(delivery_tag=method.delivery_tag)
        vistas.append(tarea["id"])
        if len(vistas) >= total:
            ch.stop_consuming()

    canal.basic_consume(queue=cola, on_message_callback=callback)
    canal.start_consuming()
    conexion.close()


if __name__ == "__main__":
    main()
