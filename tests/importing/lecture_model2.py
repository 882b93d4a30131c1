# The lecture's CNN ("CNN in Keras", ../shared/lecture.txt), pasted as a student would: the model2.add(...)
# lines in the lecture's order of the network, then its compile and fit lines (Keras 1).
from keras.datasets import mnist
from keras.models import Sequential
from keras.layers import Convolution2D, MaxPooling2D, Flatten, Dense, Activation
from keras.optimizers import SGD
from keras.utils import np_utils

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train = x_train.reshape(x_train.shape[0], 1, 28, 28).astype('float32') / 255
y_train = np_utils.to_categorical(y_train, 10)

model2 = Sequential()
model2.add( Convolution2D( 25, 3, 3,
                           input_shape=(1, 28, 28) ) )
model2.add( MaxPooling2D( (2, 2) ) )
model2.add(Convolution2D(50, 3, 3))
model2.add(MaxPooling2D( (2,2) ))
model2.add(Flatten())
model2.add(Dense(output_dim=100))
model2.add(Activation('relu'))
model2.add(Dense(output_dim=10))
model2.add(Activation('softmax'))

model2.compile(loss='categorical_crossentropy',
              optimizer=SGD(lr=0.1),
              metrics=['accuracy'])

model2.fit(x_train, y_train, batch_size=100, nb_epoch=20)
